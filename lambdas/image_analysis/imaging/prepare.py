"""Image preparation: bytes in, a PreparedImage out, with exactly one decode per image.

Order matters for speed and memory: identify (header only) -> check limits -> JPEG draft decode at
the smallest scale that keeps most of the largest rendition -> normalise the mode (pixels.py) ->
resize -> apply EXIF orientation (cheaper on fewer pixels; metadata.py) -> colour-manage to sRGB ->
encode each rendition within its service's limits (renditions.py).

Any image that decodes is analysed, however small or thin: only a shorter side under Limits.min_edge
is refused, and a refusal made after the header was read carries what was read (format, size, GPS).
A file that is one of the accepted formats by its magic numbers but cannot be decoded is refused as
`truncated` or `corrupt`, naming the format (formats.py), never as "not an image".
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace

import pillow_heif
from PIL import Image, UnidentifiedImageError

from ..domain.errors import ImageRejected, SeenImage
from ..domain.models import GpsFix
from . import formats
from .metadata import orient, orientation_tag, read_metadata
from .perceptual import perceptual_hash
from .pixels import normalise_mode, to_srgb
from .renditions import Rendition, fit, for_bedrock, for_rekognition, scaled

pillow_heif.register_heif_opener()

# Formats we accept (Pillow's names). The JPEG opener also returns MPO, the multi-picture JPEG
# some cameras write; it decodes like a JPEG.
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF")
DRAFT_MIN_FRACTION = 0.7  # a JPEG's Rekognition rendition keeps 70-100 % of REKOGNITION_MAX_EDGE


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    min_edge: int  # an image whose shorter side is under this is refused (MIN_IMAGE_EDGE)
    bedrock_max_edge: int
    rekognition_max_edge: int


@dataclass(frozen=True)
class PreparedImage:
    source_format: str
    width: int  # after EXIF orientation
    height: int
    bedrock: Rendition
    rekognition: Rendition
    gps: GpsFix | None
    notes: tuple[str, ...] = ()  # things worth recording that did not stop the analysis
    phash: str | None = None  # perceptual hash of the oriented picture (domain/likeness.py)


class _PngTextOverLimit(ImageRejected):
    """Pillow refused to inflate a PNG's text chunks; prepare() retries without them."""


def prepare(data: bytes, limits: Limits) -> PreparedImage:
    """Decode once and produce one rendition per service; raises ImageRejected for bad input."""
    try:
        return _prepare(data, limits)
    except _PngTextOverLimit:
        # Pillow caps the text it inflates (PngImagePlugin.MAX_TEXT_CHUNK and MAX_TEXT_MEMORY, against
        # zip bombs). Those are process-wide and prepare() runs in threads, so they stay as they are:
        # the text is metadata, so it is cut out of this one file and the pixels decoded without it.
        # Should the retry hit the limit again (not text, then), it is refused as corrupt.
        stripped, keywords = formats.png_without_text(data)
        prepared = _prepare(stripped, limits)
        note = _png_text_note(keywords, len(data) - len(stripped))
        return replace(prepared, notes=(note, *prepared.notes))


def _prepare(data: bytes, limits: Limits) -> PreparedImage:
    image = _identify(data)
    fmt = str(image.format)
    width, height = image.size
    _check_pixels(data, SeenImage(fmt, width, height), limits)
    notes: list[str] = []
    if fmt == "PNG" and "exif" not in image.info:
        # A PNG may keep its EXIF after the pixels, and Pillow decodes them to find it: decode here,
        # so that a damaged file is reported as such rather than as unreadable EXIF.
        _load(image, data, SeenImage(fmt, width, height))
    orientation, gps = read_metadata(image, notes)
    if fmt == "TIFF":
        # Pillow's TIFF plugin reports the upright size already, and turns the pixels while loading.
        orientation = 1
    upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    seen = SeenImage(fmt, *upright, gps=gps, notes=tuple(notes))
    _check_min_edge(seen, limits)
    largest = limits.rekognition_max_edge
    if image.format in ("JPEG", "MPO"):
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale for a fraction of the time and memory. The
        # Rekognition edge is a cap, not a need: the smallest scale keeping DRAFT_MIN_FRACTION of it
        # is taken, and no resize follows (a 12 MP photo decodes at 2000 px instead of 4000).
        floor = max(limits.bedrock_max_edge, round(largest * DRAFT_MIN_FRACTION))
        image.draft(image.mode, scaled(width, height, floor))
    _load(image, data, seen)
    if orientation != 1 and orientation_tag(image) != orientation:
        # Another decoder applied the orientation itself and dropped the tag, as Pillow's TIFF plugin
        # does: turning again would undo it.
        orientation = 1
    icc = image.info.get("icc_profile")
    picture = to_srgb(orient(fit(normalise_mode(image, notes), largest), orientation), icc, notes)
    rekognition = for_rekognition(picture, largest, notes)
    smaller = fit(picture, limits.bedrock_max_edge)  # hashed too: fewer pixels to shrink than `picture`
    return PreparedImage(
        source_format=fmt,
        width=upright[0],
        height=upright[1],
        bedrock=for_bedrock(smaller, limits.bedrock_max_edge),
        rekognition=rekognition,
        gps=gps,
        notes=tuple(notes),
        phash=perceptual_hash(smaller),
    )


def detect_format(data: bytes) -> str | None:
    """The format the bytes really are (magic numbers), for the formats services accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _identify(data: bytes) -> Image.Image:
    if not data:
        raise ImageRejected("empty", "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit decides (with a clearer message) below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # A corrupt EXIF block can warn while opening; read_metadata reports it as a note.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", f"refused as a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        # Pillow names no format it could not parse; the magic numbers still say what the file is.
        claimed = formats.sniff(data)
        if claimed is None:
            raise ImageRejected("not_an_image", _describe_non_image(data)) from exc
        raise _undecodable(data, claimed, None, "its header cannot be read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        claimed = formats.sniff(data) or "image"
        raise _undecodable(data, claimed, exc, "its header cannot be read") from exc


def _undecodable(
    data: bytes, fmt: str, exc: BaseException | None, what: str, seen: SeenImage | None = None
) -> ImageRejected:
    """A decoding failure as `truncated` (the file ends before its structure does) or `corrupt`."""
    detail = str(exc) if exc is not None else ""
    name = {"WEBP": "WebP", "MPO": "JPEG"}.get(fmt, fmt)
    if name == "PNG" and "MAX_TEXT_" in detail:
        return _PngTextOverLimit(
            "corrupt", f"corrupt PNG: its metadata is over Pillow's limit ({detail})", seen
        )
    cut = formats.ends_early(data, name) or isinstance(exc, EOFError) or "truncated" in detail.lower()
    if cut:
        what = f"the file ends early, after {len(data):,} bytes"
    code = "truncated" if cut else "corrupt"
    return ImageRejected(code, f"{code} {name}: {what}" + (f" ({detail})" if detail else ""), seen)


def _describe_non_image(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    known = [
        (b"%pdf", "a PDF document"),
        (b"<svg", "an SVG drawing (vector images are not supported)"),
        (b"<?xml", "an XML document (SVG is not supported)"),
        (b"<!doctype html", "an HTML page"),
        (b"<html", "an HTML page"),
        (b"pk\x03\x04", "a ZIP archive"),
    ]
    for magic, what in known:
        if head.startswith(magic):
            return f"not an image: the file is {what}"
    if _looks_like_text(data[:512]):
        return "not an image: the file is text"
    accepted = "JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC/HEIF"
    return f"not a supported image: the content is none of {accepted}"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the 512-byte boundary
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text.strip()) and all(ch.isprintable() or ch in "\t\r\n\f" for ch in text)


def _check_pixels(data: bytes, seen: SeenImage, limits: Limits) -> None:
    """Before anything is decoded: the header's size against MAX_IMAGE_PIXELS."""
    width, height = seen.width, seen.height
    pixels = width * height
    if pixels > limits.max_pixels:
        # A few bytes claiming hundreds of megapixels is an attack, not a photo.
        code = "decompression_bomb" if len(data) < pixels // 1000 else "too_many_pixels"
        raise ImageRejected(
            code,
            f"image is {width}x{height} ({pixels / 1e6:.0f} MP); the limit is "
            f"{limits.max_pixels / 1e6:.0f} MP (MAX_IMAGE_PIXELS)",
            seen,
        )


def _check_min_edge(seen: SeenImage, limits: Limits) -> None:
    """Refuse only what no enlargement can make meaningful (a tracking pixel, a 10 px strip)."""
    if min(seen.width, seen.height) < limits.min_edge:
        raise ImageRejected(
            "too_small",
            f"image is {seen.width}x{seen.height}; its shorter side must be at least {limits.min_edge} px "
            "(MIN_IMAGE_EDGE) for an analysis to mean anything",
            seen,
        )


def _load(image: Image.Image, data: bytes, seen: SeenImage) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", f"refused as a decompression bomb: {exc}", seen) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _undecodable(data, seen.format, exc, "its image data cannot be decoded", seen) from exc


def _png_text_note(keywords: list[bytes], dropped_bytes: int) -> str:
    names = sorted({keyword.decode("latin-1") for keyword in keywords})
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (
        f"PNG text metadata ignored: {len(keywords)} tEXt/zTXt/iTXt chunk(s) ({shown}; "
        f"{dropped_bytes:,} bytes in the file) inflate to more text than Pillow reads safely"
    )
