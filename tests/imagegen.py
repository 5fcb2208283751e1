"""Test images made in memory: every format, mode and awkward case the pipeline must handle."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, ImageDraw, TiffImagePlugin

RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 180, 40), (30, 60, 220), (255, 255, 255)


def scene(
    size: tuple[int, int] = (640, 480),
    colour: tuple[int, int, int] = BLUE,
    marker: tuple[int, int, int] = WHITE,
) -> Image.Image:
    """A flat colour with a marker square in the top-left quarter (shows where 'up' ended up)."""
    image = Image.new("RGB", size, colour)
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 16, h // 16, w // 4, h // 4), fill=marker)
    return image


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def exif_with(orientation: int | None = None, gps: tuple[float, float] | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps is not None:
        lat, lon = gps
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[1], ifd[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        ifd[3], ifd[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    return exif


def jpeg(
    size: tuple[int, int] = (640, 480),
    colour: tuple[int, int, int] = BLUE,
    *,
    orientation: int | None = None,
    gps: tuple[float, float] | None = None,
    quality: int = 90,
) -> bytes:
    exif = exif_with(orientation, gps)
    return encode(scene(size, colour), "JPEG", quality=quality, exif=exif.tobytes())


def noisy_jpeg(size: tuple[int, int], seed: int = 0) -> bytes:
    """A photo-like JPEG (noise compresses badly, like real detail) of the given size."""
    image = Image.effect_noise(size, 64).convert("RGB")
    image = Image.blend(image, scene(size, (90 + seed % 100, 140, 60)), 0.5)
    return encode(image, "JPEG", quality=92)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and a correct CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header claims width x height pixels: a few hundred bytes that decode to gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")
    )


def ztxt(keyword: str, text_bytes: int) -> bytes:
    """A zTXt chunk whose text inflates to `text_bytes` (a few KB on disk for megabytes of text)."""
    return png_chunk(b"zTXt", keyword.encode() + b"\x00\x00" + zlib.compress(b"x" * text_bytes, 9))


def xmp_itxt(text_bytes: int) -> bytes:
    """A compressed iTXt chunk carrying an XMP packet of `text_bytes`, as Photoshop/Lightroom write."""
    packet = b"<x:xmpmeta>" + b" " * text_bytes + b"</x:xmpmeta>"
    return png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(packet, 9))


def png_with_chunks(image: Image.Image, chunks: list[bytes], *, after_pixels: bool = False) -> bytes:
    """A PNG of `image` with extra chunks right after IHDR (read when opening) or before IEND (read
    after the pixels, when loading)."""
    data = encode(image, "PNG")
    at = data.rindex(b"IEND") - 4 if after_pixels else 8 + 25  # signature + the IHDR chunk
    return data[:at] + b"".join(chunks) + data[at:]


def _dms(value: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    seconds = round((minutes_full - minutes) * 60 * 1000)
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(seconds, 1000),
    )


def random_noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Uniform per-channel noise: the worst case for JPEG size (nothing to compress)."""
    import random

    width, height = size
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(width * height * 3))


def halves(mode: str, size: tuple[int, int], left: object, right: object) -> Image.Image:
    """An image in `mode` whose left half is `left` and right half `right` (pixel values in that mode)."""
    image = Image.new(mode, size, left)  # type: ignore[arg-type]
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 2, 0, w - 1, h - 1), fill=right)  # type: ignore[arg-type]
    return image


def multi_frame(fmt: str, colours: list[tuple[int, int, int]], size: tuple[int, int] = (200, 160)) -> bytes:
    """An animated GIF/WebP, multi-page TIFF or multi-picture MPO: one flat colour per frame."""
    frames = [Image.new("RGB", size, colour) for colour in colours]
    params: dict[str, object] = {"save_all": True, "append_images": frames[1:]}
    if fmt in ("GIF", "WEBP"):
        params["duration"] = 100
    if fmt == "WEBP":
        params["lossless"] = True
    return encode(frames[0], fmt, **params)


def with_app1(jpeg_data: bytes, payload: bytes) -> bytes:
    """A JPEG with an extra APP1 segment (e.g. a broken EXIF block) right after the SOI marker."""
    assert jpeg_data[:2] == b"\xff\xd8"
    return jpeg_data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg_data[2:]


SKIN, SKIN_DARK = (226, 178, 140), (150, 100, 62)  # "skin" to the AI double's simulated faces


def portrait(
    faces: list[tuple[float, float, float, float]],
    size: tuple[int, int] = (800, 600),
    background: tuple[int, int, int] = BLUE,
    tone: tuple[int, int, int] = SKIN,
    smiling: bool = True,
) -> bytes:
    """A JPEG with a drawn face (skin ellipse, two dark eyes, a mouth if smiling) in each box, given
    as (left, top, width, height) ratios; the double's face rules are in imgpipe/simulated/faces.py."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    for left, top, width, height in faces:
        x0, y0, x1, y1 = left * w, top * h, (left + width) * w, (top + height) * h
        fw, fh = x1 - x0, y1 - y0
        draw.ellipse((x0, y0, x1, y1), fill=tone)
        for ex in (0.33, 0.67):
            cx, cy, r = x0 + ex * fw, y0 + 0.38 * fh, max(2.0, 0.06 * fw)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(20, 20, 20))
        if smiling:
            draw.rectangle((x0 + 0.35 * fw, y0 + 0.75 * fh, x0 + 0.65 * fw, y0 + 0.8 * fh), fill=(25, 10, 10))
    return encode(image, "JPEG", quality=90)
