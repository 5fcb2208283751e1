"""A perceptual hash of a decoded picture: the signs of the low-frequency DCT coefficients of the
picture shrunk to SIDE x SIDE grey pixels (bit layout and comparisons: domain/likeness.py).

Re-encoding, resizing and format changes hardly move those coefficients, so copies keep their bits;
a picture shifted, or with its subject moved, changes the phase of the higher ones. Plain Python (the
Lambda has no numpy): only the BLOCK lowest frequencies are computed, as two small matrix products
of about 25,000 multiplications, well under a millisecond (measured in docs/architecture.md).
"""

from __future__ import annotations

import math
from functools import cache
from operator import mul

from PIL import Image

from ..domain.likeness import BLOCK, render

SIDE = 32  # the picture is shrunk to SIDE x SIDE grey pixels before the DCT


def perceptual_hash(picture: Image.Image) -> str:
    """The hash (hex) of an oriented picture in RGB or L."""
    small = picture.resize((SIDE, SIDE), Image.Resampling.BOX)
    grey = small.convert("L") if small.mode != "L" else small
    values = list(grey.tobytes())  # one byte a pixel, row after row
    basis = _basis()
    rows = [values[y * SIDE : (y + 1) * SIDE] for y in range(SIDE)]
    # Along each row, then down each column: coefficient (u, v) = sum over y of basis[v][y] * row_u[y].
    along = [[sum(map(mul, row, basis[u])) for row in rows] for u in range(BLOCK)]
    bits = 0
    for v in range(BLOCK):
        for u in range(BLOCK):
            positive = (u or v) and sum(map(mul, along[u], basis[v])) > 0
            bits = (bits << 1) | bool(positive)
    return render(bits)


@cache
def _basis() -> tuple[tuple[float, ...], ...]:
    """DCT-II basis: basis[k][n] = cos(pi * (2n + 1) * k / (2 * SIDE)); scaling does not change signs."""
    return tuple(
        tuple(math.cos(math.pi * (2 * n + 1) * k / (2 * SIDE)) for n in range(SIDE)) for k in range(BLOCK)
    )
