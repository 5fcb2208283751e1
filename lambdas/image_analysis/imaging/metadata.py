"""EXIF orientation and GPS from an opened image, each read on its own: a malformed tag loses only
itself, and a broken block is a note, never a refusal."""

from __future__ import annotations

import warnings

from PIL import Image

from ..domain.models import GpsFix
from .exif_gps import read_gps

ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION = 0x0112


def read_metadata(image: Image.Image, notes: list[str]) -> tuple[int, GpsFix | None]:
    """EXIF orientation and GPS, each read on its own: a malformed tag loses itself, not the other."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Pillow reports skipped EXIF entries as warnings
        exif = _exif(image, notes)
        if exif is None:
            return 1, None
        orientation = _orientation(exif, notes)
        gps, problem = read_gps(exif)
    skipped = [w for w in caught if issubclass(w.category, UserWarning)]
    if skipped:
        notes.append(f"EXIF partly corrupt ({str(skipped[0].message).strip()}); unreadable entries ignored")
    if problem:
        notes.append(problem)
    return orientation, gps


def orient(image: Image.Image, orientation: int) -> Image.Image:
    method = ORIENTATION_TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def orientation_tag(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except Exception:
        return 1


def _exif(image: Image.Image, notes: list[str]) -> Image.Exif | None:
    """The EXIF tags that could be read, or None (with a note) when none could."""
    try:
        _parse_raw_exif(image)
        broken: Exception | None = None
    except Exception as exc:
        broken = exc
    try:
        exif = image.getexif()
    except Exception as exc:
        broken, exif = exc, Image.Exif()
    if broken is not None and not len(exif):
        notes.append(f"EXIF unreadable ({type(broken).__name__}); orientation and GPS ignored")
        return None
    if broken is not None:
        notes.append(f"EXIF partly unreadable ({type(broken).__name__}); the readable tags were used")
    return exif


def _orientation(exif: Image.Exif, notes: list[str]) -> int:
    raw = exif.get(EXIF_ORIENTATION)
    try:
        value = int(raw or 1)  # 0 is what some cameras write for "unknown"
    except (TypeError, ValueError):
        notes.append(f"EXIF orientation unreadable ({raw!r:.40}); the picture is used as stored")
        return 1
    if value != 1 and value not in ORIENTATION_TRANSPOSE:
        notes.append(f"EXIF orientation {value} is not one of 1-8; the picture is used as stored")
        return 1
    return value


def _parse_raw_exif(image: Image.Image) -> None:
    """Parse the raw EXIF block again so its errors surface here.

    Pillow's JPEG opener may already have parsed it (looking for a resolution), swallowed an error and
    cached an empty result, which would make a corrupt block indistinguishable from no block at all.
    """
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        Image.Exif().load(raw)
