"""Perceptual hashes compared: the bit layout imaging/perceptual.py writes, the hash of the same
picture turned by 90, 180 or 270 degrees (derived from the bits, no pixels needed), Hamming distance,
and near-duplicate groups. Pure: the Lambda computes the hash, the CLI groups records by it.

The hash holds the signs of the lowest BLOCK x BLOCK coefficients of a 2-D DCT-II of the picture
shrunk to a square of grey pixels, bit (u, v) at position v * BLOCK + u (u: horizontal frequency); the
DC bit is always 0. A sign needs no median, so turning the picture maps bits onto bits exactly: a
mirror x -> N-1-x multiplies coefficient (u, v) by (-1)^u, a mirror in y by (-1)^v, and a
transpose swaps u and v. A quarter turn is a transpose and one mirror.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cache

BLOCK = 16  # coefficients a side: BLOCK * BLOCK bits, written as BLOCK * BLOCK / 4 hex digits
BITS = BLOCK * BLOCK
HEX_DIGITS = BITS // 4
# Largest Hamming distance (of 255 informative bits) still called the same picture; measured in
# docs/architecture.md#near-duplicates (re-encodes, resizes and turns against burst shots).
DEFAULT_MAX_DISTANCE = 16


def parse(text: str) -> int:
    """A stored hash (hex) as an integer; ValueError for anything else."""
    if len(text) != HEX_DIGITS:
        raise ValueError(f"a perceptual hash has {HEX_DIGITS} hex digits, not {len(text)}")
    return int(text, 16)


def render(value: int) -> str:
    return f"{value:0{HEX_DIGITS}x}"


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def turns(value: int) -> tuple[int, int, int, int]:
    """The hash of the picture as it is and turned by each quarter turn (order: 0, 90, 180, 270
    degrees, one way round; which way does not matter to a comparison under every turn)."""
    odd_u, odd_v, transpose = _masks()
    half = value ^ odd_u ^ odd_v  # mirrored in x and in y: turned by 180 degrees
    quarter = _transposed(value ^ odd_u, transpose)
    return value, quarter, half, quarter ^ odd_u ^ odd_v


def turned_distance(a: int, b: int) -> int:
    """The smallest distance between `a` and `b` under any quarter turn of `b`."""
    return min(distance(a, turned) for turned in turns(b))


@cache
def _masks() -> tuple[int, int, tuple[tuple[int, int], ...]]:
    odd_u = odd_v = 0
    pairs = []
    for v in range(BLOCK):
        for u in range(BLOCK):
            bit = 1 << _position(u, v)
            odd_u |= bit if u % 2 else 0
            odd_v |= bit if v % 2 else 0
            if u < v:
                pairs.append((_position(u, v), _position(v, u)))
    dc = 1 << _position(0, 0)  # always 0 in a hash; a mask must not set it
    return odd_u & ~dc, odd_v & ~dc, tuple(pairs)


def _position(u: int, v: int) -> int:
    """Bit index of coefficient (u, v), counted from the most significant bit of the hex string."""
    return BITS - 1 - (v * BLOCK + u)


def _transposed(value: int, pairs: tuple[tuple[int, int], ...]) -> int:
    for i, j in pairs:
        if ((value >> i) ^ (value >> j)) & 1:  # the two bits differ: swapping them flips both
            value ^= (1 << i) | (1 << j)
    return value


class Groups:
    """Union-find over item indexes: which items end up in one group."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)

    def members(self) -> list[list[int]]:
        """Groups of two or more, each in item order, in the order of their first item."""
        found: dict[int, list[int]] = defaultdict(list)
        for item in range(len(self.parent)):
            found[self.find(item)].append(item)
        return [group for group in found.values() if len(group) > 1]


def near_pairs(hashes: list[int], max_distance: int) -> Iterator[tuple[int, int, int]]:
    """(i, j, distance) for every i < j whose hashes are within max_distance under a quarter turn.

    Candidates come from bands (pigeonhole): split the bits into max_distance + 1 bands; two hashes
    that differ in at most max_distance bits agree exactly on at least one band. Each hash is indexed
    by its bands, and each turn of each hash looks up the hashes sharing a band; only those pairs are
    compared. This prunes most pairs of unrelated pictures; pictures that share large plain areas
    share bands more often, and in the worst case every pair is compared (n squared / 2).
    """
    bands = _bands(max_distance)
    index: dict[tuple[int, int], list[int]] = defaultdict(list)
    for item, value in enumerate(hashes):
        for band, mask in enumerate(bands):
            index[(band, value & mask)].append(item)
    for i, value in enumerate(hashes):
        best: dict[int, int] = {}
        for turned in turns(value):
            for candidate in _candidates(index, bands, turned, i):
                d = distance(turned, hashes[candidate])
                if d <= max_distance and d < best.get(candidate, BITS + 1):
                    best[candidate] = d
        for j in sorted(best):
            yield i, j, best[j]


def _candidates(
    index: dict[tuple[int, int], list[int]], bands: tuple[int, ...], value: int, after: int
) -> set[int]:
    return {j for band, mask in enumerate(bands) for j in index.get((band, value & mask), ()) if j > after}


@cache
def _bands(max_distance: int) -> tuple[int, ...]:
    """max_distance + 1 masks that split the BITS - 1 informative bits (DC left out) into even bands."""
    informative = [bit for bit in range(BITS) if bit != _position(0, 0)]
    count = max(1, min(max_distance + 1, len(informative)))
    masks = [0] * count
    for n, bit in enumerate(informative):
        masks[n * count // len(informative)] |= 1 << bit
    return tuple(masks)


def group(hashes: Iterable[int], max_distance: int) -> list[list[int]]:
    """Indexes of the hashes in groups of near-duplicates (linked through pairs within max_distance)."""
    values = list(hashes)
    groups = Groups(len(values))
    for i, j, _ in near_pairs(values, max_distance):
        groups.join(i, j)
    return groups.members()
