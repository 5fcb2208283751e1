"""Decoded pixels in any Pillow mode -> what a JPEG rendition holds: RGB or L, in sRGB."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageChops, ImageMath

_FLOAT_MAX = 3.4028234663852886e38  # the largest finite 32-bit float


def normalise_mode(image: Image.Image, notes: list[str]) -> Image.Image:
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
        return _stretch_to_l(image, notes)
    return image.convert("RGB")  # YCbCr, LAB, HSV and anything newer


def to_srgb(image: Image.Image, icc: bytes | None, notes: list[str]) -> Image.Image:
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


def _flatten(rgba: Image.Image) -> Image.Image:
    """Composite transparency onto white: services would otherwise see undefined colours."""
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _stretch_to_l(image: Image.Image, notes: list[str]) -> Image.Image:
    """32-bit integer or float pixels have no fixed range: map the finite range onto 0..255.

    A float image may hold NaN (no data) or infinities; one such pixel would make the range NaN or
    infinite and the whole picture black. They are left out of the range and shown black (NaN, -inf)
    or white (+inf). ImageMath does this in C: numpy is not in the Lambda.
    """
    finite = _float_mask(image, lambda x: abs(x) < float("inf")) if image.mode == "F" else None
    if finite is not None and finite.getextrema()[0] == 255:
        finite = None  # every pixel is finite: the plain range is right
    low, high = _finite_range(image, finite)
    span = (high - low) or 1.0
    scale, offset = 255.0 / span, -low * 255.0 / span
    grey = image.point(lambda v: v * scale + offset).convert("L")
    if finite is not None:
        grey.paste(0, mask=ImageChops.invert(finite))  # NaN has no defined brightness once scaled
        grey.paste(255, mask=_float_mask(image, lambda x: x > _FLOAT_MAX))
        notes.append("float image has NaN or infinite pixels: shown black (NaN, -inf) and white (+inf)")
    return grey


def _float_mask(image: Image.Image, test: Callable[[Any], Any]) -> Image.Image:
    """An L mask, 255 where `test` holds for a pixel of the float image."""
    flags: Image.Image = ImageMath.lambda_eval(lambda names: test(names["x"]), x=image)
    return flags.point(lambda v: v * 255).convert("L")


def _finite_range(image: Image.Image, finite: Image.Image | None) -> tuple[float, float]:
    if finite is None:
        extrema = image.getextrema()
        return float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]  # one band: (min, max)
    # Fill the non-finite pixels with a value that cannot be the minimum (then the maximum).
    low = Image.composite(image, Image.new("F", image.size, _FLOAT_MAX), finite).getextrema()[0]
    high = Image.composite(image, Image.new("F", image.size, -_FLOAT_MAX), finite).getextrema()[1]
    low, high = float(low), float(high)  # type: ignore[arg-type]
    return (0.0, 0.0) if low > high else (low, high)  # no finite pixel at all
