"""Image preparation: every accepted format and mode in, two JPEG renditions (or a coded refusal) out."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from image_analysis.domain.errors import ImageRejected
from image_analysis.imaging import renditions
from image_analysis.imaging.prepare import Limits, PreparedImage, detect_format, prepare
from image_analysis.imaging.renditions import Rendition
from PIL import Image, ImageCms, JpegImagePlugin, PngImagePlugin

from tests.imagegen import (
    BLUE,
    GREEN,
    RED,
    WHITE,
    encode,
    exif_with,
    halves,
    jpeg,
    multi_frame,
    noisy_jpeg,
    png_bomb,
    png_with_chunks,
    random_noise,
    scene,
    with_app1,
    xmp_itxt,
    ztxt,
)

LIMITS = Limits(max_pixels=100_000_000, min_edge=16, bedrock_max_edge=1024, rekognition_max_edge=2048)
CYAN = (0, 255, 255)


def decoded(rendition: Rendition) -> Image.Image:
    return Image.open(io.BytesIO(rendition.data))


def rgb_at(rendition: Rendition, xy: tuple[int, int]) -> tuple[int, int, int]:
    return decoded(rendition).convert("RGB").getpixel(xy)  # type: ignore[return-value]


def centre(rendition: Rendition) -> tuple[int, int, int]:
    return rgb_at(rendition, (rendition.width // 2, rendition.height // 2))


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 8) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def both(prepared: PreparedImage) -> tuple[Rendition, Rendition]:
    return prepared.rekognition, prepared.bedrock


def refusal(data: bytes, limits: Limits = LIMITS) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        prepare(data, limits)
    return caught.value


# --- Formats -----------------------------------------------------------------------------------------


def still(fmt: str, **params: Any) -> bytes:
    return encode(Image.new("RGB", (200, 160), RED), fmt, **params)


@pytest.mark.parametrize(
    ("data", "source_format"),
    [
        (still("JPEG", quality=95), "JPEG"),
        (still("PNG"), "PNG"),
        (still("WEBP", lossless=True), "WEBP"),
        (still("BMP"), "BMP"),
        (still("TIFF"), "TIFF"),
        (still("HEIF", quality=95), "HEIF"),
        # Multi-frame files: the first frame is the picture (RED first, then other colours).
        (multi_frame("GIF", [RED, GREEN, BLUE]), "GIF"),
        (multi_frame("WEBP", [RED, GREEN, BLUE]), "WEBP"),
        (multi_frame("TIFF", [RED, GREEN, BLUE]), "TIFF"),
        (multi_frame("MPO", [RED, GREEN]), "MPO"),
    ],
    ids=["jpeg", "png", "webp", "bmp", "tiff", "heif", "gif-animated", "webp-animated", "tiff-pages", "mpo"],
)
def test_every_accepted_format_decodes_to_jpeg_renditions_of_its_first_frame(
    data: bytes, source_format: str
) -> None:
    prepared = prepare(data, LIMITS)
    assert prepared.source_format == source_format
    assert (prepared.width, prepared.height) == (200, 160)
    for rendition in both(prepared):
        assert rendition.format == "jpeg" and detect_format(rendition.data) == "jpeg"
        assert close(centre(rendition), RED), centre(rendition)


# --- Modes -------------------------------------------------------------------------------------------


def _palette_image(mode: str) -> Image.Image:
    """Palette image: index 0 on the left, index 1 (red) on the right."""
    image = halves("PA", (200, 100), (0, 0), (1, 255)) if mode == "PA" else halves("P", (200, 100), 0, 1)
    image.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    return image


@pytest.mark.parametrize(
    ("data", "opaque"),
    [
        (encode(halves("RGBA", (200, 100), (0, 0, 0, 0), (*RED, 255)), "PNG"), RED),
        (encode(halves("RGBA", (200, 100), (0, 0, 0, 0), (*RED, 255)), "WEBP", lossless=True), RED),
        (encode(halves("LA", (200, 100), (0, 0), (50, 255)), "PNG"), (50, 50, 50)),
        (encode(_palette_image("PA"), "TIFF"), RED),
        (encode(_palette_image("P"), "PNG", transparency=0), RED),
        (encode(_palette_image("P"), "GIF", transparency=0), RED),
    ],
    ids=["rgba-png", "rgba-webp", "la-png", "pa-tiff", "p-transparency-png", "p-transparency-gif"],
)
def test_transparency_is_flattened_onto_white(data: bytes, opaque: tuple[int, int, int]) -> None:
    # Given an image whose left half is fully transparent black and right half opaque
    # When it is prepared
    prepared = prepare(data, LIMITS)
    # Then the transparent half is white (not black) and the opaque half keeps its colour
    for rendition in both(prepared):
        w, h = rendition.width, rendition.height
        assert close(rgb_at(rendition, (w // 4, h // 2)), WHITE)
        assert close(rgb_at(rendition, (3 * w // 4, h // 2)), opaque)


def test_half_transparent_pixels_are_blended_with_white() -> None:
    data = encode(Image.new("RGBA", (100, 100), (*RED, 128)), "PNG")
    assert close(centre(prepare(data, LIMITS).rekognition), (238, 138, 138), tolerance=4)


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG"])
def test_cmyk_becomes_rgb_with_the_same_colour(fmt: str) -> None:
    data = encode(Image.new("CMYK", (120, 120), (255, 0, 0, 0)), fmt)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    for rendition in both(prepare(data, LIMITS)):
        assert decoded(rendition).mode == "RGB"
        assert close(centre(rendition), CYAN, tolerance=12), centre(rendition)


def test_16_bit_greyscale_is_scaled_to_8_bits() -> None:
    data = encode(Image.new("I;16", (120, 120), 40000), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    value = centre(prepare(data, LIMITS).rekognition)
    assert all(abs(channel - 40000 / 257) <= 1.5 for channel in value), value


def _gradient(mode: str, values: list[float]) -> Image.Image:
    """Vertical stripes from left to right with the given pixel values."""
    image = Image.new(mode, (40 * len(values), 100))
    for i, value in enumerate(values):
        image.paste(value, (40 * i, 0, 40 * (i + 1), 100))  # type: ignore[arg-type]
    return image


@pytest.mark.parametrize(
    ("mode", "values"),
    [
        ("I", [-20_000, 0, 15_000, 30_000, 45_000, 70_000]),
        ("F", [-0.5, 0.0, 0.1, 0.45, 0.8, 1.0]),
    ],
    ids=["int32", "float"],
)
def test_32_bit_images_keep_their_order_from_dark_to_light(mode: str, values: list[float]) -> None:
    data = encode(_gradient(mode, values), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == mode
    rendition = prepare(data, LIMITS).rekognition
    levels = [rgb_at(rendition, (40 * i + 20, 50))[0] for i in range(len(values))]
    assert levels == sorted(levels) and len(set(levels)) == len(levels), levels
    assert levels[0] <= 10 and levels[-1] >= 245, levels


def test_float_pixels_that_are_nan_or_infinite_do_not_black_out_the_picture() -> None:
    # Given a float image whose first stripe is NaN (so Pillow's extrema are NaN), with +inf and -inf
    # stripes among ordinary values
    values = [float("nan"), -0.5, float("inf"), 0.0, 0.5, float("-inf"), 1.0]
    data = encode(_gradient("F", values), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "F"
    # When it is prepared
    prepared = prepare(data, LIMITS)
    # Then the finite values still span black to white in order
    rendition = prepared.rekognition
    level = {i: rgb_at(rendition, (40 * i + 20, 50))[0] for i in range(len(values))}
    finite = [level[1], level[3], level[4], level[6]]
    assert finite == sorted(finite) and finite[0] <= 10 and finite[-1] >= 245, level
    assert level[3] < level[4] < level[6], level
    # and NaN and -inf show black, +inf white, and the notes say so
    assert level[0] <= 10 and level[5] <= 10 and level[2] >= 245, level
    assert any("NaN" in note and "infinite" in note for note in prepared.notes), prepared.notes


def test_a_float_image_without_a_finite_pixel_is_black_not_an_error() -> None:
    data = encode(Image.new("F", (120, 100), float("nan")), "TIFF")
    prepared = prepare(data, LIMITS)
    assert close(centre(prepared.rekognition), (0, 0, 0))


def test_bilevel_images_become_black_and_white() -> None:
    data = encode(halves("1", (200, 100), 0, 1), "PNG")
    rendition = prepare(data, LIMITS).rekognition
    assert close(rgb_at(rendition, (50, 50)), (0, 0, 0)) and close(rgb_at(rendition, (150, 50)), WHITE)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_greyscale_stays_greyscale_with_its_levels(fmt: str) -> None:
    data = encode(halves("L", (200, 100), 30, 200), fmt)
    for rendition in both(prepare(data, LIMITS)):
        assert decoded(rendition).mode == "L"
        w, h = rendition.width, rendition.height
        assert close(rgb_at(rendition, (w // 4, h // 2)), (30, 30, 30), tolerance=3)
        assert close(rgb_at(rendition, (3 * w // 4, h // 2)), (200, 200, 200), tolerance=3)


# --- EXIF orientation --------------------------------------------------------------------------------


def marker_corners(rendition: Rendition) -> list[str]:
    """Which corner(s) of the rendition show the white marker that scene() draws top-left."""
    image = decoded(rendition).convert("RGB")
    w, h = image.size
    x0, y0, x1, y1 = w * 5 // 32, h * 5 // 32, w - 1 - w * 5 // 32, h - 1 - h * 5 // 32
    probes = {"top-left": (x0, y0), "top-right": (x1, y0), "bottom-left": (x0, y1), "bottom-right": (x1, y1)}
    return [corner for corner, xy in probes.items() if min(image.getpixel(xy)) > 200]  # type: ignore[arg-type]


# orientation -> where the stored top-left marker appears once displayed upright
DISPLAYED_CORNER = {
    1: "top-left",
    2: "top-right",  # mirrored
    3: "bottom-right",  # rotated 180°
    4: "bottom-left",  # flipped vertically
    5: "top-left",  # transposed
    6: "top-right",  # stored image needs 90° clockwise
    7: "bottom-right",  # transverse
    8: "bottom-left",  # stored image needs 90° counter-clockwise
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_both_renditions(orientation: int) -> None:
    # Given a 640x480 JPEG with its marker in the top-left of the stored pixels
    data = jpeg((640, 480), orientation=orientation)
    # When it is prepared
    prepared = prepare(data, LIMITS)
    # Then the marker is where a viewer would show it, and 5-8 swap width and height
    upright = (480, 640) if orientation >= 5 else (640, 480)
    assert (prepared.width, prepared.height) == upright
    for rendition in both(prepared):
        assert rendition.width / rendition.height == pytest.approx(upright[0] / upright[1], abs=0.01)
        assert marker_corners(rendition) == [DISPLAYED_CORNER[orientation]]


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("PNG", {}), ("WEBP", {"lossless": True}), ("TIFF", {}), ("HEIF", {"quality": 95})],
)
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_in_other_formats_is_applied_exactly_once(
    fmt: str, params: dict[str, Any], orientation: int
) -> None:
    # Some decoders (TIFF, HEIF) rotate while loading; the image must not be turned a second time.
    data = encode(scene((640, 480)), fmt, exif=exif_with(orientation).tobytes(), **params)
    prepared = prepare(data, LIMITS)
    assert (prepared.width, prepared.height) == ((480, 640) if orientation >= 5 else (640, 480))
    assert marker_corners(prepared.rekognition) == [DISPLAYED_CORNER[orientation]]


def test_an_out_of_range_orientation_is_ignored() -> None:
    prepared = prepare(jpeg((640, 480), orientation=9), LIMITS)
    assert (prepared.width, prepared.height) == (640, 480)
    assert marker_corners(prepared.rekognition) == ["top-left"]


# --- Renditions --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    return noisy_jpeg((6000, 4000))


@pytest.fixture
def draft_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Record each JPEG draft request (requested size, and the size libjpeg then decodes at)."""
    calls: list[tuple[Any, Any]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> Any:
        result = real_draft(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return calls


def test_a_12_mp_jpeg_decodes_at_half_scale_without_a_resize(draft_requests: list[tuple[Any, Any]]) -> None:
    prepared = prepare(noisy_jpeg((4000, 3000)), LIMITS)
    assert draft_requests[0][1] == (2000, 1500)
    assert (prepared.rekognition.width, prepared.rekognition.height) == (2000, 1500)


def test_big_jpegs_are_decoded_at_reduced_scale(
    big_photo: bytes, draft_requests: list[tuple[Any, Any]]
) -> None:
    # When a 24 MP photo is prepared
    prepared = prepare(big_photo, LIMITS)
    # Then libjpeg was asked for 70 % of the Rekognition edge, and decoded at 1/4 scale
    assert draft_requests == [((1434, 956), (1500, 1000))]
    # and the Rekognition rendition is that decode, unresized (within 70-100 % of its cap), the
    # Bedrock one has its configured edge, and the reported size is the original's
    assert (prepared.rekognition.width, prepared.rekognition.height) == (1500, 1000)
    assert prepared.bedrock.width == 1024 and prepared.bedrock.height == pytest.approx(683, abs=1)
    assert (prepared.width, prepared.height) == (6000, 4000)


@pytest.mark.parametrize(
    ("size", "rekognition", "bedrock"),
    [
        ((3000, 1000), (2048, 683), (1024, 341)),
        ((1000, 3000), (683, 2048), (341, 1024)),
        ((1500, 999), (1500, 999), (1024, 682)),
        ((300, 200), (300, 200), (300, 200)),
    ],
    ids=["wide", "tall", "medium", "small-not-upscaled"],
)
def test_renditions_fit_their_long_edge_and_keep_the_aspect_ratio(
    size: tuple[int, int], rekognition: tuple[int, int], bedrock: tuple[int, int]
) -> None:
    prepared = prepare(encode(scene(size), "PNG", compress_level=1), LIMITS)
    for rendition, expected in ((prepared.rekognition, rekognition), (prepared.bedrock, bedrock)):
        assert max(rendition.width, rendition.height) == max(expected)
        assert rendition.width == pytest.approx(expected[0], abs=1)
        assert rendition.height == pytest.approx(expected[1], abs=1)
        # the short side is within 1 px of the exact proportional size
        long_side, short_side = sorted((rendition.width, rendition.height), reverse=True)
        assert abs(short_side - long_side * min(size) / max(size)) <= 1
        assert decoded(rendition).size == (rendition.width, rendition.height)


def test_renditions_stay_under_service_byte_limits_even_for_noise_at_the_largest_size() -> None:
    # Given pure noise (JPEG cannot compress it) at the largest edge Rekognition renditions may have
    data = encode(random_noise((4096, 4096)), "BMP")
    limits = replace(LIMITS, rekognition_max_edge=4096, bedrock_max_edge=1568)
    # When it is prepared
    prepared = prepare(data, limits)
    # Then each rendition fits its service's request limit, and is still a JPEG of sensible size
    assert len(prepared.rekognition.data) <= 5 * 1024 * 1024
    assert len(prepared.bedrock.data) <= 3.75 * 1024 * 1024
    for rendition in both(prepared):
        assert detect_format(rendition.data) == "jpeg"
        assert decoded(rendition).size == (rendition.width, rendition.height)
        assert rendition.width == rendition.height >= 1024


def test_a_rendition_over_its_byte_limit_is_re_encoded_smaller(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Rekognition byte limit that even the lowest quality cannot meet at full size
    monkeypatch.setattr(renditions, "REKOGNITION_MAX_BYTES", 120_000)
    prepared = prepare(encode(random_noise((600, 600)), "PNG", compress_level=1), LIMITS)
    assert len(prepared.rekognition.data) <= 120_000
    assert prepared.rekognition.width < 600 and prepared.rekognition.width == prepared.rekognition.height


# --- Refusals ----------------------------------------------------------------------------------------


def test_zero_bytes_are_refused_as_empty() -> None:
    assert refusal(b"").code == "empty"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"Holiday notes\nDay 1: arrived in Lisbon.\n", "text"),
        (b"<!DOCTYPE html>\n<html><body>not a photo</body></html>", "HTML"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    ],
    ids=["text", "html", "svg", "svg-xml", "pdf"],
)
def test_documents_are_refused_as_not_an_image_naming_what_they_are(data: bytes, named: str) -> None:
    rejected = refusal(data)
    assert rejected.code == "not_an_image"
    assert named in rejected.message


@pytest.mark.parametrize(
    "data",
    [jpeg((1200, 900)), noisy_jpeg((800, 600))],
    ids=["flat", "detailed"],
)
def test_a_jpeg_cut_in_half_is_refused_as_truncated(data: bytes) -> None:
    assert refusal(data[: len(data) // 2]).code in ("truncated", "corrupt")


def _damaged_ihdr(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[20] ^= 0xFF  # the IHDR chunk's width: its CRC no longer matches
    return bytes(damaged)


def _file(fmt: str, **params: Any) -> bytes:
    return encode(scene((640, 480)), fmt, **params)


@pytest.mark.parametrize(
    ("data", "code", "named"),
    [
        (_file("JPEG")[:5], "truncated", "JPEG"),
        (_file("JPEG")[:200], "truncated", "JPEG"),
        (_file("PNG")[:20], "truncated", "PNG"),
        (_file("GIF")[:10], "truncated", "GIF"),
        (_file("WEBP", lossless=True)[:40], "truncated", "WebP"),
        (_file("TIFF")[:50], "truncated", "TIFF"),
        (_file("BMP")[:20], "truncated", "BMP"),
        (_file("HEIF")[:200], "truncated", "HEIF"),
        (_file("HEIF")[: len(_file("HEIF")) // 2], "truncated", "HEIF"),
        (_damaged_ihdr(_file("PNG")), "corrupt", "PNG"),
    ],
    ids=[
        "jpeg-5-bytes",
        "jpeg-200-bytes",
        "png-20-bytes",
        "gif-10-bytes",
        "webp-40-bytes",
        "tiff-50-bytes",
        "bmp-20-bytes",
        "heif-200-bytes",
        "heif-half",
        "png-damaged-header",
    ],
)
def test_a_damaged_file_in_a_supported_format_says_so_and_names_the_format(
    data: bytes, code: str, named: str
) -> None:
    # Given a file that is one of the accepted formats by its magic numbers, cut short or damaged
    # When it is prepared
    rejected = refusal(data)
    # Then it is refused as truncated or corrupt, naming its format, never as "not an image"
    assert (rejected.code, rejected.message.split(":")[0]) == (code, f"{code} {named}"), rejected.message


def test_a_png_claiming_billions_of_pixels_is_refused_as_a_decompression_bomb() -> None:
    rejected = refusal(png_bomb())
    assert rejected.code == "decompression_bomb"


def test_a_tiny_file_claiming_more_than_the_pixel_limit_is_a_decompression_bomb() -> None:
    # 120 MP: over our limit but under Pillow's own bomb threshold, in a few hundred bytes
    assert refusal(png_bomb(12_000, 10_000)).code == "decompression_bomb"


def test_a_real_image_over_the_pixel_limit_is_refused_as_too_many_pixels() -> None:
    data = encode(scene((1200, 1000)), "JPEG", quality=90)
    rejected = refusal(data, replace(LIMITS, max_pixels=1_000_000))
    assert rejected.code == "too_many_pixels" and "1200x1000" in rejected.message


def test_an_image_of_exactly_the_minimum_size_is_accepted() -> None:
    # (Refusals under the minimum, and enlargement, are in test_rendition_limits.py.)
    prepared = prepare(encode(Image.new("RGB", (16, 16), RED), "PNG"), LIMITS)
    assert (prepared.rekognition.width, prepared.rekognition.height) == (80, 80)
    assert close(centre(prepared.bedrock), RED) and close(centre(prepared.rekognition), RED)


def test_unsupported_image_formats_are_refused() -> None:
    data = encode(Image.new("RGB", (120, 120), RED), "PPM")
    assert refusal(data).code == "not_an_image"


# --- Metadata ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"Exif\x00\x00" + b"garbage!" * 20,
        b"Exif\x00\x00II*\x00\xff\xff\xff\x00" + b"\x01" * 50,
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x12\x01\x03\x00" * 8,
    ],
    ids=["not-tiff", "bad-offset", "bad-entries"],
)
def test_a_broken_exif_block_is_noted_and_the_image_still_prepared(payload: bytes) -> None:
    data = with_app1(jpeg((640, 480), RED), payload)
    prepared = prepare(data, LIMITS)
    assert (prepared.width, prepared.height) == (640, 480) and prepared.gps is None
    assert any("EXIF" in note for note in prepared.notes), prepared.notes
    assert close(rgb_at(prepared.rekognition, (600, 400)), RED)


def test_a_clean_image_has_no_notes() -> None:
    assert prepare(jpeg((640, 480), orientation=6, gps=(48.85, 2.35)), LIMITS).notes == ()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_an_embedded_srgb_profile_keeps_the_colours(fmt: str) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    params: dict[str, Any] = {"icc_profile": srgb}
    if fmt == "WEBP":
        params["lossless"] = True
    data = encode(halves("RGB", (200, 100), GREEN, BLUE), fmt, **params)
    assert Image.open(io.BytesIO(data)).info.get("icc_profile")
    prepared = prepare(data, LIMITS)
    assert prepared.notes == ()
    for rendition in both(prepared):
        w, h = rendition.width, rendition.height
        assert close(rgb_at(rendition, (w // 4, h // 2)), GREEN)
        assert close(rgb_at(rendition, (3 * w // 4, h // 2)), BLUE)


def test_an_unreadable_colour_profile_is_noted_and_ignored() -> None:
    data = encode(Image.new("RGB", (120, 120), RED), "PNG", icc_profile=b"not an ICC profile" * 10)
    prepared = prepare(data, LIMITS)
    assert close(centre(prepared.rekognition), RED)
    assert any("colour profile" in note for note in prepared.notes), prepared.notes


# A PNG's text chunks are metadata; Pillow refuses to inflate more than MAX_TEXT_CHUNK (1 MB) of one,
# or MAX_TEXT_MEMORY (64 MB) in all, to guard against zip bombs.
@pytest.mark.parametrize(
    ("chunks", "after_pixels"),
    [
        ([ztxt("Comment", 3_000_000)], False),
        ([xmp_itxt(2_000_000)], False),
        ([ztxt("Comment", 3_000_000)], True),
        ([ztxt(f"Note{i}", 1_000_000) for i in range(70)], False),
    ],
    ids=["ztxt-3mb", "xmp-itxt-2mb", "ztxt-3mb-after-pixels", "70-chunks-of-1mb"],
)
def test_a_png_with_megabytes_of_text_metadata_is_analysed_and_the_metadata_noted(
    chunks: list[bytes], after_pixels: bool
) -> None:
    # Given a valid PNG carrying more text metadata than Pillow will read
    data = png_with_chunks(halves("RGB", (200, 100), GREEN, BLUE), chunks, after_pixels=after_pixels)
    # When it is prepared
    prepared = prepare(data, LIMITS)
    # Then the pixels are analysed as they are
    assert prepared.source_format == "PNG" and (prepared.width, prepared.height) == (200, 100)
    assert close(rgb_at(prepared.rekognition, (50, 50)), GREEN)
    assert close(rgb_at(prepared.rekognition, (150, 50)), BLUE)
    # and a note says which metadata was ignored, and nothing else is blamed
    assert [note for note in prepared.notes if "text" in note and "ignored" in note], prepared.notes
    assert not [note for note in prepared.notes if "EXIF" in note], prepared.notes
    # and Pillow's own limits are left as they were, for every other image in the process
    assert (PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY) == (2**20, 64 * 2**20)


def test_a_png_with_a_little_text_metadata_has_no_notes() -> None:
    data = png_with_chunks(Image.new("RGB", (120, 120), RED), [ztxt("Comment", 1000)])
    assert prepare(data, LIMITS).notes == ()


# tag 0x0112, type SHORT, 1 value: 6 (Pillow writes EXIF big-endian)
ORIENTATION_6 = b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"


@pytest.mark.parametrize(
    "entry",
    [
        b"\x01\x12\x00\x02\x00\x00\x00\x04six\x00",  # ASCII "six"
        b"\x01\x12\x00\x07\x00\x00\x00\x04\x00\x06\x00\x00",  # 4 UNDEFINED bytes
    ],
    ids=["text", "undefined-bytes"],
)
def test_one_malformed_exif_tag_loses_only_itself(entry: bytes) -> None:
    # Given a photo whose orientation tag is malformed but whose GPS block is fine
    raw = exif_with(orientation=6, gps=(48.8584, 2.2945)).tobytes()
    assert raw.count(ORIENTATION_6) == 1
    data = encode(scene((640, 480)), "JPEG", exif=raw.replace(ORIENTATION_6, entry))
    # When it is prepared
    prepared = prepare(data, LIMITS)
    # Then the GPS fix is kept, the picture is used as stored, and the note names the lost tag
    assert prepared.gps is not None and prepared.gps.latitude == pytest.approx(48.8584, abs=1e-5)
    assert (prepared.width, prepared.height) == (640, 480)
    assert marker_corners(prepared.rekognition) == ["top-left"]
    assert any("orientation" in note for note in prepared.notes), prepared.notes
    assert not any("GPS" in note for note in prepared.notes), prepared.notes


def test_an_out_of_range_orientation_is_noted() -> None:
    prepared = prepare(jpeg((640, 480), orientation=9), LIMITS)
    assert any("orientation 9" in note for note in prepared.notes), prepared.notes
