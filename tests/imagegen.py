"""Test images made in memory: every format, mode and awkward case the pipeline must handle."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import ExifTags, Image, ImageDraw, ImageEnhance, ImageFilter, TiffImagePlugin

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


def photo(
    seed: int,
    size: tuple[int, int] = (800, 600),
    *,
    shift: tuple[float, float] = (0.0, 0.0),
    subject: tuple[float, float] = (0.0, 0.0),
    exposure: float = 1.0,
) -> Image.Image:
    """A photo-like scene (sky gradient, textured hills, houses, trees and a person) drawn from `seed`.

    A burst of shots of one scene: the same seed with the camera shifted (`shift`, a fraction of the
    frame), the person moved (`subject`, a fraction of the frame) or the exposure changed (a factor
    on brightness). Texture is noise, so the picture compresses like a photo, not a flat drawing."""
    rng = random.Random(seed)
    w, h = size
    margin_w, margin_h = w // 10, h // 10  # the camera frames a window of a larger scene
    world = Image.new("RGB", (w + 2 * margin_w, h + 2 * margin_h))
    draw = ImageDraw.Draw(world)
    top, bottom = [tuple(rng.randrange(60, 230) for _ in range(3)) for _ in range(2)]
    for y in range(world.height):  # the sky: a vertical gradient
        mix = y / world.height
        draw.line(
            (0, y, world.width, y),
            fill=tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)),
        )
    horizon = world.height * rng.uniform(0.4, 0.65)
    hill = [(x, horizon + rng.uniform(-0.12, 0.12) * h) for x in range(0, world.width + 80, 80)]
    draw.polygon([(0, world.height), *hill, (world.width, world.height)], fill=_colour(rng, 40, 160))
    for _ in range(rng.randrange(4, 9)):  # houses and trees
        x, y = rng.uniform(0, world.width), horizon + rng.uniform(-0.05, 0.3) * h
        s = rng.uniform(0.05, 0.16) * h
        if rng.random() < 0.5:
            draw.rectangle((x, y - s, x + 1.4 * s, y), fill=_colour(rng, 80, 240))
            draw.polygon(
                [(x - 0.2 * s, y - s), (x + 0.7 * s, y - 1.7 * s), (x + 1.6 * s, y - s)], fill=_colour(rng)
            )
        else:
            draw.rectangle((x - 0.1 * s, y - s, x + 0.1 * s, y), fill=(90, 60, 30))
            draw.ellipse((x - 0.6 * s, y - 2.2 * s, x + 0.6 * s, y - 0.8 * s), fill=_colour(rng, 20, 140))
    px = margin_w + w * (rng.uniform(0.3, 0.6) + subject[0])  # the person, the burst's moving subject
    py = margin_h + h * (rng.uniform(0.55, 0.75) + subject[1])
    s = 0.25 * h
    draw.rectangle((px - 0.18 * s, py - 0.75 * s, px + 0.18 * s, py), fill=_colour(rng))
    draw.ellipse((px - 0.12 * s, py - s, px + 0.12 * s, py - 0.75 * s), fill=SKIN)
    # Seeded grain (Image.effect_noise cannot be seeded): the same seed draws the same picture.
    grain = Image.frombytes("L", world.size, rng.randbytes(world.width * world.height))
    noise = grain.filter(ImageFilter.BoxBlur(1)).convert("RGB")
    world = Image.blend(world, noise, 0.15).filter(ImageFilter.GaussianBlur(0.6))
    left, upper = margin_w + round(shift[0] * w), margin_h + round(shift[1] * h)
    shot = world.crop((left, upper, left + w, upper + h))
    return ImageEnhance.Brightness(shot).enhance(exposure) if exposure != 1.0 else shot


def _colour(rng: random.Random, low: int = 30, high: int = 230) -> tuple[int, int, int]:
    return (rng.randrange(low, high), rng.randrange(low, high), rng.randrange(low, high))
