"""Every decodable image gets renditions each service accepts, whatever its size or aspect ratio.

Rekognition needs at least 80 px on each side (and at most 10,000 px for labels and moderation, 5 MB);
Bedrock takes at most 8,000 px per side and 3.75 MB. Only images too small for any analysis to mean
something (a shorter side under Limits.min_edge) are refused, and the refusal still says what was read.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from image_analysis.domain.errors import ImageRejected
from image_analysis.domain.models import Box
from image_analysis.imaging.prepare import Limits, prepare
from image_analysis.imaging.renditions import Rendition, box_in_picture
from PIL import Image

from tests.imagegen import RED, WHITE, encode, jpeg, scene

LIMITS = Limits(max_pixels=100_000_000, min_edge=16, bedrock_max_edge=1024, rekognition_max_edge=2048)
REKOGNITION_MIN_SIDE, REKOGNITION_MAX_SIDE, REKOGNITION_MAX_BYTES = 80, 10_000, 5 * 1024 * 1024
BEDROCK_MAX_SIDE, BEDROCK_MAX_BYTES = 8000, 3_932_160


def pixels(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data)).convert("RGB")
    assert image.size == (rendition.width, rendition.height)
    return image


def close(actual: object, expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.mark.parametrize(
    "size",
    [
        (1170, 20000),
        (20000, 300),
        (300, 20000),
        (100, 68),
        (68, 100),
        (16, 16),
        (16, 3000),
        (3000, 16),
        (79, 79),
    ],
    ids=[
        "phone-screenshot",
        "panorama",
        "tall-strip",
        "small-photo",
        "small-portrait",
        "16px",
        "thin-tall",
        "thin-wide",
        "79px",
    ],
)
def test_every_rendition_meets_its_services_limits(size: tuple[int, int]) -> None:
    # Given an image of an awkward size
    data = encode(scene(size, RED), "PNG", compress_level=1)
    # When it is prepared
    prepared = prepare(data, LIMITS)
    # Then Rekognition's rendition has 80-10,000 px on each side and fits 5 MB
    rek = prepared.rekognition
    assert min(rek.width, rek.height) >= REKOGNITION_MIN_SIDE, (rek.width, rek.height)
    assert max(rek.width, rek.height) <= min(REKOGNITION_MAX_SIDE, LIMITS.rekognition_max_edge)
    assert len(rek.data) <= REKOGNITION_MAX_BYTES
    # and Bedrock's has at most 8,000 px per side and fits 3.75 MB
    bedrock = prepared.bedrock
    assert max(bedrock.width, bedrock.height) <= min(BEDROCK_MAX_SIDE, LIMITS.bedrock_max_edge)
    assert len(bedrock.data) <= BEDROCK_MAX_BYTES
    # and both are real JPEGs of the declared size, showing the picture
    for rendition in (rek, bedrock):
        assert close(pixels(rendition).getpixel((rendition.width // 2, rendition.height // 2)), RED)
    # and the image keeps its own size in the result
    assert (prepared.width, prepared.height) == size


def test_a_small_photo_is_enlarged_only_as_far_as_rekognition_needs() -> None:
    # Given a 100x68 photo
    prepared = prepare(jpeg((100, 68), RED), LIMITS)
    # Then Rekognition gets it enlarged to 80 px on its short side, aspect kept (not 2048 px wide)
    assert (prepared.rekognition.width, prepared.rekognition.height) == (118, 80)
    # and Bedrock, which has no minimum, gets it as it is
    assert (prepared.bedrock.width, prepared.bedrock.height) == (100, 68)
    # and the result says so, and that the answers are less reliable
    assert any(
        "enlarged from 100x68 to 118x80" in note and "less reliable" in note for note in prepared.notes
    ), prepared.notes


def test_a_photo_at_rekognitions_minimum_is_not_enlarged_nor_noted() -> None:
    prepared = prepare(jpeg((120, 80), RED), LIMITS)
    assert (prepared.rekognition.width, prepared.rekognition.height) == (120, 80)
    assert prepared.notes == ()


def test_a_panorama_too_thin_to_enlarge_within_the_edge_limit_is_padded_with_white() -> None:
    # Given a 20000x300 panorama: fitted to 2048 px it is 31 px high, and enlarging it to 80 px
    # high would make it 5333 px wide, over REKOGNITION_MAX_EDGE
    prepared = prepare(encode(Image.new("RGB", (20000, 300), RED), "PNG", compress_level=1), LIMITS)
    rek = prepared.rekognition
    # Then Rekognition gets it at 2048 px wide, centred on a white band 80 px high
    assert (rek.width, rek.height) == (2048, 80)
    image = pixels(rek)
    assert close(image.getpixel((1024, 40)), RED)
    assert close(image.getpixel((1024, 2)), WHITE) and close(image.getpixel((1024, 77)), WHITE)
    # and the rendition says where the picture is in it, for anyone mapping boxes back
    assert rek.content == (0, 24, 2048, 55)
    # and the note says it was padded
    assert any("padded" in note and "2048x31" in note for note in prepared.notes), prepared.notes


@pytest.mark.parametrize(
    "size", [(1, 1), (15, 15), (15, 4000), (100_000, 10)], ids=["1x1", "15x15", "15x4000", "100000x10"]
)
def test_an_image_whose_shorter_side_is_under_the_minimum_is_refused_as_too_small(
    size: tuple[int, int],
) -> None:
    data = encode(Image.new("RGB", size, RED), "PNG")
    with pytest.raises(ImageRejected) as caught:
        prepare(data, LIMITS)
    rejected = caught.value
    assert rejected.code == "too_small"
    assert f"{size[0]}x{size[1]}" in rejected.message and "16 px" in rejected.message
    # and the refusal carries what was read, for the result
    assert rejected.seen is not None
    assert (rejected.seen.format, rejected.seen.width, rejected.seen.height) == ("PNG", *size)


def test_a_too_small_refusal_carries_the_gps_fix_and_the_upright_size() -> None:
    # Given a 12x10 JPEG, turned by its EXIF orientation, with GPS in Paris
    data = jpeg((12, 10), RED, orientation=6, gps=(48.8584, 2.2945))
    with pytest.raises(ImageRejected) as caught:
        prepare(data, LIMITS)
    seen = caught.value.seen
    # Then the refusal records its format, its upright size and its GPS fix
    assert seen is not None and (seen.format, seen.width, seen.height) == ("JPEG", 10, 12)
    assert seen.gps is not None and seen.gps.latitude == pytest.approx(48.8584, abs=1e-5)


def test_the_minimum_is_a_knob() -> None:
    data = jpeg((100, 68), RED)
    with pytest.raises(ImageRejected, match="100x68"):
        prepare(data, replace(LIMITS, min_edge=80))
    assert prepare(data, replace(LIMITS, min_edge=68)).width == 100


PADDED = Rendition(data=b"", format="jpeg", width=2048, height=80, content=(0, 24, 2048, 56))


@pytest.mark.parametrize(
    ("found", "on_picture"),
    [
        # the picture's whole band: the whole picture
        (Box(0.0, 0.3, 1.0, 0.4), Box(0.0, 0.0, 1.0, 1.0)),
        # the left half of the band, reaching into the padding above and below: clipped to the picture
        (Box(0.0, 0.0, 0.5, 1.0), Box(0.0, 0.0, 0.5, 1.0)),
        # the lower half of the band
        (Box(0.25, 0.5, 0.5, 0.2), Box(0.25, 0.5, 0.5, 0.5)),
    ],
)
def test_boxes_found_on_a_padded_rendition_are_mapped_onto_the_picture(found: Box, on_picture: Box) -> None:
    mapped = box_in_picture(found, PADDED)
    assert mapped is not None
    assert [round(v, 6) for v in (mapped.left, mapped.top, mapped.width, mapped.height)] == [
        on_picture.left,
        on_picture.top,
        on_picture.width,
        on_picture.height,
    ]


def test_a_box_wholly_in_the_padding_is_dropped_and_unpadded_boxes_are_untouched() -> None:
    assert box_in_picture(Box(0.1, 0.0, 0.2, 0.25), PADDED) is None
    box = Box(0.1, 0.2, 0.3, 0.4)
    assert box_in_picture(box, replace(PADDED, content=None)) is box
