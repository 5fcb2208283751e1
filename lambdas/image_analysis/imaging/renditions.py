"""The JPEG each AI service receives: fitted to its long edge and within its byte limit; Rekognition's
also at least 80 px a side, a small picture enlarged just enough and a thin one padded with white.

Every rendition is JPEG, so the format declared to Bedrock and Rekognition is the one encoded here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Literal

from PIL import Image

from ..domain.models import Box

REKOGNITION_MAX_BYTES = 5 * 1024 * 1024
BEDROCK_MAX_BYTES = 3_932_160  # 3.75 MB
REKOGNITION_MIN_EDGE = 80  # Rekognition refuses an image with a side under 80 px
JPEG_QUALITIES = (90, 80, 70, 60)  # tried in order until the rendition fits its service's byte limit


@dataclass(frozen=True)
class Rendition:
    data: bytes
    format: Literal["jpeg"]  # what the bytes are, and what is declared to the service
    width: int
    height: int
    # Where the picture lies in a padded rendition (left, top, right, bottom px); None: it fills it.
    # Boxes a service returns are ratios of the whole rendition, padding included: see box_in_picture.
    content: tuple[int, int, int, int] | None = None


def for_bedrock(picture: Image.Image, max_edge: int) -> Rendition:
    """Bedrock has no minimum size; its maximum (8,000 px a side) is far above BEDROCK_MAX_EDGE."""
    return _encode_jpeg(fit(picture, max_edge), BEDROCK_MAX_BYTES)


def for_rekognition(picture: Image.Image, max_edge: int, notes: list[str]) -> Rendition:
    """Rekognition refuses a side under 80 px: a small picture is enlarged just enough (never to
    max_edge: that spends pixels and adds nothing), and one too thin to enlarge within max_edge (a
    panorama) is padded with white to 80 px."""
    image = picture
    while True:
        enlarged = _enlarged(image, max_edge)
        padded, content = _padded(enlarged, REKOGNITION_MIN_EDGE)
        rendition = _try_jpeg(padded, REKOGNITION_MAX_BYTES)
        if rendition is not None:
            break
        # Pathological noise at the largest size: halve the pixels (and the cap) and try again.
        image = fit(image, max(image.size) // 2)
        max_edge = max(image.size)
    w, h = image.size
    if enlarged is not image:
        notes.append(
            f"picture enlarged from {w}x{h} to {enlarged.width}x{enlarged.height} px for Rekognition, "
            f"which needs {REKOGNITION_MIN_EDGE} px a side: labels, text and moderation found on so "
            "small a picture are less reliable"
        )
    if content is not None:
        notes.append(
            f"picture ({enlarged.width}x{enlarged.height} px once fitted) padded with white to "
            f"{padded.width}x{padded.height} for Rekognition, which needs {REKOGNITION_MIN_EDGE} px a "
            "side; label and text boxes were mapped back onto the picture"
        )
    return replace(rendition, content=content)


def box_in_picture(box: Box, rendition: Rendition) -> Box | None:
    """A box found on `rendition` as ratios of the picture itself, the padding taken off; None when
    nothing of it lies on the picture."""
    if rendition.content is None:
        return box
    left, top, right, bottom = rendition.content
    width, height = right - left, bottom - top

    def x(ratio: float) -> float:
        return min(1.0, max(0.0, (ratio * rendition.width - left) / width))

    def y(ratio: float) -> float:
        return min(1.0, max(0.0, (ratio * rendition.height - top) / height))

    x0, y0, x1, y1 = x(box.left), y(box.top), x(box.left + box.width), y(box.top + box.height)
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(left=x0, top=y0, width=x1 - x0, height=y1 - y0)


def scaled(width: int, height: int, max_edge: int) -> tuple[int, int]:
    scale = min(1.0, max_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit(image: Image.Image, max_edge: int) -> Image.Image:
    size = scaled(image.width, image.height, max_edge)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _enlarged(image: Image.Image, max_edge: int) -> Image.Image:
    """Scaled up until the short side reaches Rekognition's minimum, the long side staying <= max_edge."""
    short, long = min(image.size), max(image.size)
    scale = min(REKOGNITION_MIN_EDGE / short, max_edge / long)
    if scale <= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _padded(image: Image.Image, min_edge: int) -> tuple[Image.Image, tuple[int, int, int, int] | None]:
    """Centred on a white canvas with both sides >= min_edge; also where the picture lies in it."""
    w, h = image.size
    if min(w, h) >= min_edge:
        return image, None
    canvas = Image.new(image.mode, (max(w, min_edge), max(h, min_edge)), "white")
    left, top = (canvas.width - w) // 2, (canvas.height - h) // 2
    canvas.paste(image, (left, top))
    return canvas, (left, top, left + w, top + h)


def _encode_jpeg(image: Image.Image, max_bytes: int) -> Rendition:
    while (rendition := _try_jpeg(image, max_bytes)) is None:
        # Pathological noise at the largest size: halve the pixels and try again.
        image = fit(image, max(image.width, image.height) // 2)
    return rendition


def _try_jpeg(image: Image.Image, max_bytes: int) -> Rendition | None:
    """The image as a JPEG at the best quality that fits max_bytes, or None if none does."""
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        if len(data) <= max_bytes:
            return Rendition(data=data, format="jpeg", width=image.width, height=image.height)
    return None
