"""Issue 11, part 4: the perceptual hash made in `prepare` (imaging/perceptual.py) and its comparison
(domain/likeness.py). Copies of one photo (re-encoded, resized, converted, turned in their pixels or
by an EXIF tag) stay within the default distance; burst shots of one scene (camera moved, subject
moved, exposure changed) and other scenes do not. The pictures are photo-like (tests/imagegen.photo):
texture, gradients and shapes, not flat colours."""

from __future__ import annotations

import random
from itertools import combinations
from pathlib import Path

import pytest
from image_analysis.domain import likeness
from image_analysis.domain.errors import ImageRejected
from image_analysis.domain.keys import KeyLayout
from image_analysis.domain.models import CachedAnalysis, ImageInfo, ImageResult
from image_analysis.domain.records import record_from_result
from image_analysis.domain.states import ImageStatus
from image_analysis.imaging.perceptual import perceptual_hash
from image_analysis.imaging.prepare import Limits, prepare
from PIL import Image

from imgpipe.samples import write_samples
from tests.imagegen import encode, exif_with, photo

LIMITS = Limits(max_pixels=100_000_000, min_edge=16, bedrock_max_edge=1024, rekognition_max_edge=2048)
SEEDS = range(6)
LIMIT = likeness.DEFAULT_MAX_DISTANCE
ROTATIONS = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)


def hashed(data: bytes) -> int:
    phash = prepare(data, LIMITS).phash
    assert phash is not None
    return likeness.parse(phash)


def copies(image: Image.Image) -> dict[str, bytes]:
    w, h = image.size
    turned = image.transpose(Image.Transpose.ROTATE_90)
    return {
        "JPEG q50": encode(image, "JPEG", quality=50),
        "JPEG q95": encode(image, "JPEG", quality=95),
        "25 %": encode(image.resize((w // 4, h // 4), Image.Resampling.LANCZOS), "JPEG", quality=85),
        "200 %": encode(image.resize((w * 2, h * 2), Image.Resampling.LANCZOS), "JPEG", quality=85),
        "PNG": encode(image, "PNG"),
        "WebP": encode(image, "WEBP", quality=80),
        **{f"turned {t.name}": encode(image.transpose(t), "JPEG", quality=85) for t in ROTATIONS},
        "turned, halved, q60": encode(turned.resize((h // 2, w // 2)), "JPEG", quality=60),
        # Pixels stored turned, with the EXIF tag that turns them back: prepare orients them.
        "EXIF orientation 6": encode(turned, "JPEG", quality=85, exif=exif_with(orientation=6).tobytes()),
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_copies_of_a_photo_are_within_the_default_distance(seed: int) -> None:
    image = photo(seed)
    original = hashed(encode(image, "JPEG", quality=92))
    distances = {
        name: likeness.turned_distance(original, hashed(data)) for name, data in copies(image).items()
    }
    assert max(distances.values()) <= LIMIT, distances


@pytest.mark.parametrize("seed", SEEDS)
def test_burst_shots_and_other_scenes_are_not(seed: int) -> None:
    original = hashed(encode(photo(seed), "JPEG", quality=92))
    bursts = {
        "camera 2 % right": photo(seed, shift=(0.02, 0.0)),
        "camera 3 % diagonal": photo(seed, shift=(0.03, 0.02)),
        "camera 1 %, subject 3 %, exposure 0.9": photo(
            seed, shift=(0.01, 0.01), subject=(0.03, 0.0), exposure=0.9
        ),
        "camera 1 %, subject 6 %, exposure 1.2": photo(
            seed, shift=(-0.01, 0.0), subject=(0.06, 0.01), exposure=1.2
        ),
        "another scene": photo(seed + 100),
    }
    distances = {
        name: likeness.turned_distance(original, hashed(encode(shot, "JPEG", quality=92)))
        for name, shot in bursts.items()
    }
    assert min(distances.values()) > LIMIT, distances


def test_turns_derived_from_the_bits_match_the_turned_pictures() -> None:
    image = photo(7, (480, 480))
    derived = likeness.turns(likeness.parse(perceptual_hash(image)))
    assert derived[0] == likeness.parse(perceptual_hash(image))
    for transpose in ROTATIONS:
        turned = likeness.parse(perceptual_hash(image.transpose(transpose)))
        # One of the three quarter turns is this one, bit for bit (a coefficient at exactly 0 aside).
        assert min(likeness.distance(turned, d) for d in derived[1:]) <= 2, transpose
    assert likeness.turns(derived[1])[3] == derived[0]  # four quarter turns make a whole one


def test_the_hash_is_hex_of_the_documented_length_with_the_dc_bit_clear() -> None:
    phash = perceptual_hash(photo(1))
    assert len(phash) == likeness.HEX_DIGITS == 64
    assert int(phash, 16) >> (likeness.BITS - 1) == 0  # coefficient (0, 0) carries no information
    assert likeness.render(likeness.parse(phash)) == phash
    with pytest.raises(ValueError, match="hex digits"):
        likeness.parse("abc")


def test_bands_find_exactly_the_pairs_a_full_comparison_finds() -> None:
    rng = random.Random(3)
    base = [rng.getrandbits(likeness.BITS) & ~(1 << (likeness.BITS - 1)) for _ in range(40)]
    hashes = list(base)
    for value in base[:20]:  # near copies: a few bits flipped, some of them turned
        flipped = value
        for bit in rng.sample(range(likeness.BITS - 1), rng.randrange(0, 25)):
            flipped ^= 1 << bit
        hashes.append(likeness.turns(flipped)[rng.randrange(4)])
    for limit in (0, 8, 16, 24):
        expected = {
            (i, j, d)
            for i in range(len(hashes))
            for j in range(i + 1, len(hashes))
            if (d := likeness.turned_distance(hashes[i], hashes[j])) <= limit
        }
        assert set(likeness.near_pairs(hashes, limit)) == expected, limit
        assert any(pair[2] > 0 for pair in expected) or limit == 0


def test_groups_join_chains_and_leave_singletons_out() -> None:
    a = 0b1111 << 100
    b, c, far = a ^ 0b1, a ^ 0b111, a ^ ((1 << 200) - 1)
    assert likeness.group([a, far, b, c], 1) == [[0, 2]]
    assert likeness.group([a, far, b, c], 2) == [[0, 2, 3]]  # c is 2 from b, 3 from a: chained


def test_the_hash_travels_in_the_document_the_record_and_the_cache_entry() -> None:
    info = ImageInfo("b", "images/a.jpg", None, None, 10, sha256="s", width=8, height=6, phash="ab" * 32)
    result = ImageResult(info, ImageStatus.COMPLETE, "t", "f")
    assert ImageResult.from_dict(result.to_dict()).image.phash == "ab" * 32
    stored = record_from_result(result, KeyLayout("images/", "results/"), "v", "t")
    assert (stored["phash"], stored["width"], stored["height"]) == ("ab" * 32, 8, 6)
    old_document = result.to_dict()
    del old_document["image"]["phash"]
    assert ImageResult.from_dict(old_document).image.phash is None  # documents from before it still read
    assert CachedAnalysis(result.analyses, "JPEG", 8, 6, "images/a.jpg").phash is None


def test_the_demo_samples_are_distinct_photos(tmp_path: Path) -> None:
    # `make demo` then `imgpipe duplicates` must not call Paris and Sydney the same photo: the sample
    # landscapes differ in layout, not only in colour (a re-tint is a near-duplicate, rightly).
    limits = Limits(max_pixels=100_000_000, min_edge=16, bedrock_max_edge=1024, rekognition_max_edge=2048)
    hashes = {}
    for path in write_samples(tmp_path):
        try:
            hashes[path.name] = likeness.parse(prepare(path.read_bytes(), limits).phash)
        except ImageRejected:
            continue  # the broken samples
    assert {"paris-eiffel-tower.jpg", "sydney-opera-house.jpg", "rotated-portrait.jpg"} <= hashes.keys()
    closest = min(likeness.turned_distance(a, b) for a, b in combinations(hashes.values(), 2))
    assert closest > 4 * likeness.DEFAULT_MAX_DISTANCE
