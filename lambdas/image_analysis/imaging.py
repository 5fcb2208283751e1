"""Image preparation: bytes in, a PreparedImage out, with exactly one decode per image.

Order matters for speed and memory: identify (header only) -> check limits -> JPEG draft decode at
the smallest scale that keeps most of the largest rendition -> normalise the mode -> resize -> apply
EXIF orientation (cheaper on fewer pixels) -> colour-manage to sRGB -> encode each rendition.
Every rendition is JPEG, so the format declared to Bedrock and Rekognition is the one encoded here.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, UnidentifiedImageError

from .errors import ImageRejected
from .exif_gps import GpsFix, read_gps

pillow_heif.register_heif_opener()

# Formats we accept (Pillow's names). The JPEG opener also returns MPO, the multi-picture JPEG
# some cameras write; it decodes like a JPEG.
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF")
REKOGNITION_MAX_BYTES = 5 * 1024 * 1024
BEDROCK_MAX_BYTES = 3_932_160  # 3.75 MB
JPEG_QUALITIES = (90, 80, 70, 60)  # tried in order until the rendition fits its service's byte limit
DRAFT_MIN_FRACTION = 0.7  # a JPEG's Rekognition rendition keeps 70-100 % of REKOGNITION_MAX_EDGE

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    min_edge: int
    bedrock_max_edge: int
    rekognition_max_edge: int


@dataclass(frozen=True)
class Rendition:
    data: bytes
    format: str  # "jpeg": what the bytes are, and what is declared to the service
    width: int
    height: int


@dataclass(frozen=True)
class PreparedImage:
    source_format: str
    width: int  # after EXIF orientation
    height: int
    bedrock: Rendition
    rekognition: Rendition
    gps: GpsFix | None
    notes: tuple[str, ...] = ()  # things worth recording that did not stop the analysis


def prepare(data: bytes, limits: Limits) -> PreparedImage:
    """Decode once and produce one rendition per service; raises ImageRejected for bad input."""
    image = _identify(data)
    notes: list[str] = []
    width, height = image.size
    _check_dimensions(width, height, len(data), limits)
    orientation, gps = _read_metadata(image, notes)
    largest = limits.rekognition_max_edge
    if image.format in ("JPEG", "MPO"):
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale for a fraction of the time and memory. The
        # Rekognition edge is a cap, not a need: the smallest scale keeping DRAFT_MIN_FRACTION of it
        # is taken, and no resize follows (a 12 MP photo decodes at 2000 px instead of 4000).
        floor = max(limits.bedrock_max_edge, round(largest * DRAFT_MIN_FRACTION))
        image.draft(image.mode, _scaled(width, height, floor))
    _load(image)
    if orientation != 1 and _orientation_tag(image) != orientation:
        # The decoder applied the orientation itself and dropped the tag (Pillow's TIFF plugin does):
        # the size read from the header is already upright, and turning again would undo it.
        orientation = 1
    icc = image.info.get("icc_profile")
    normalised = _normalise_mode(image)
    rek_image = _orient(_fit(normalised, largest), orientation)
    rek_image = _to_srgb(rek_image, icc, notes)
    bedrock_image = _fit(rek_image, limits.bedrock_max_edge)
    oriented_w, oriented_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return PreparedImage(
        source_format=str(image.format),
        width=oriented_w,
        height=oriented_h,
        bedrock=_encode_jpeg(bedrock_image, BEDROCK_MAX_BYTES),
        rekognition=_encode_jpeg(rek_image, REKOGNITION_MAX_BYTES),
        gps=gps,
        notes=tuple(notes),
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
            # A corrupt EXIF block can warn while opening; _read_metadata reports it as a note.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", f"refused as a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not_an_image", _describe_non_image(data)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("corrupt", f"the image header cannot be read: {exc}") from exc


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


def _check_dimensions(width: int, height: int, size_bytes: int, limits: Limits) -> None:
    pixels = width * height
    if pixels > limits.max_pixels:
        # A few bytes claiming hundreds of megapixels is an attack, not a photo.
        code = "decompression_bomb" if size_bytes < pixels // 1000 else "too_many_pixels"
        raise ImageRejected(
            code,
            f"image is {width}x{height} ({pixels / 1e6:.0f} MP); the limit is "
            f"{limits.max_pixels / 1e6:.0f} MP (MAX_IMAGE_PIXELS)",
        )
    if min(width, height) < limits.min_edge:
        raise ImageRejected(
            "too_small",
            f"image is {width}x{height}; both sides must be at least {limits.min_edge} px",
        )


def _read_metadata(image: Image.Image, notes: list[str]) -> tuple[int, GpsFix | None]:
    """EXIF orientation and GPS; a broken EXIF block is noted, never fatal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Pillow reports skipped EXIF entries as warnings
        try:
            _parse_raw_exif(image)
            exif = image.getexif()
            orientation = int(exif.get(_EXIF_ORIENTATION, 1) or 1)
        except Exception as exc:
            notes.append(f"EXIF unreadable ({type(exc).__name__}); orientation and GPS ignored")
            return 1, None
        gps, problem = read_gps(exif)
    skipped = [w for w in caught if issubclass(w.category, UserWarning)]
    if skipped:
        notes.append(f"EXIF partly corrupt ({str(skipped[0].message).strip()}); unreadable entries ignored")
    if problem:
        notes.append(problem)
    return (orientation if orientation in _ORIENTATION_TRANSPOSE else 1), gps


def _parse_raw_exif(image: Image.Image) -> None:
    """Parse the raw EXIF block again so its errors surface here.

    Pillow's JPEG opener may already have parsed it (looking for a resolution), swallowed an error and
    cached an empty result, which would make a corrupt block indistinguishable from no block at all.
    """
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        Image.Exif().load(raw)


def _orientation_tag(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except Exception:
        return 1


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", f"refused as a decompression bomb: {exc}") from exc
    except OSError as exc:
        code = "truncated" if "truncated" in str(exc).lower() else "corrupt"
        raise ImageRejected(code, f"the image data cannot be decoded: {exc}") from exc
    except (SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("corrupt", f"the image data cannot be decoded: {exc}") from exc


def _scaled(width: int, height: int, max_edge: int) -> tuple[int, int]:
    scale = min(1.0, max_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB, L or CMYK (CMYK is colour-managed after resizing)."""
    mode = image.mode
    if mode in ("RGB", "L", "CMYK"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode == "P":
        has_alpha = "transparency" in image.info or (
            image.palette is not None and image.palette.mode == "RGBA"
        )
        return _flatten(image.convert("RGBA")) if has_alpha else image.convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        return _flatten(image.convert("RGBA"))
    if mode.startswith("I;16"):
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if mode in ("I", "F"):
        return _stretch_to_l(image)
    return image.convert("RGB")  # YCbCr, LAB, HSV and anything newer


def _flatten(rgba: Image.Image) -> Image.Image:
    """Composite transparency onto white: services would otherwise see undefined colours."""
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _stretch_to_l(image: Image.Image) -> Image.Image:
    """32-bit integer or float pixels have no fixed range: map the actual range onto 0..255."""
    extrema = image.getextrema()
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]  # one band: (min, max)
    span = (high - low) or 1.0
    scale, offset = 255.0 / span, -low * 255.0 / span
    return image.point(lambda v: v * scale + offset).convert("L")


def _fit(image: Image.Image, max_edge: int) -> Image.Image:
    size = _scaled(image.width, image.height, max_edge)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def _to_srgb(image: Image.Image, icc: bytes | None, notes: list[str]) -> Image.Image:
    """Honour an embedded colour profile (iPhone Display P3, CMYK print profiles) when there is one."""
    if icc and image.mode in ("RGB", "CMYK"):
        from PIL import ImageCms  # imported on demand: most images carry no profile

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            notes.append(f"colour profile ignored ({exc})")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _encode_jpeg(image: Image.Image, max_bytes: int) -> Rendition:
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        if len(data) <= max_bytes:
            return Rendition(data=data, format="jpeg", width=image.width, height=image.height)
    # Pathological noise at the largest size: halve the pixels and try again.
    return _encode_jpeg(_fit(image, max(image.width, image.height) // 2), max_bytes)
