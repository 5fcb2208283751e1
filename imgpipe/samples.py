"""A small, honest sample set for `make demo`: synthetic pictures (no one's photos are shipped), real
EXIF metadata, and the awkward files a photo folder really contains."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, TiffImagePlugin

# (file name, latitude, longitude): GPS tags of well-known places; the pixels are generated.
GPS_SAMPLES = [
    ("travel/paris-eiffel-tower.jpg", 48.85837, 2.29448),
    ("travel/sydney-opera-house.jpg", -33.85678, 151.21530),
    ("travel/kyoto-kiyomizu-dera.jpg", 34.99485, 135.78504),
    ("travel/new york/central park.jpg", 40.78283, -73.96536),
]


def write_samples(folder: Path) -> list[Path]:
    """Write the sample set into folder and return the paths written."""
    makers: dict[str, Callable[[], bytes]] = {
        **{name: _gps_photo(lat, lon, index) for index, (name, lat, lon) in enumerate(GPS_SAMPLES)},
        "phone/rotated-portrait.jpg": _rotated_phone_photo,
        "graphics/logo with alpha.png": _png_with_alpha,
        "phone/iphone-photo.heic": _heic,
        "camera/24-megapixel.jpg": _large_jpeg,
        "broken/corrupt.jpg": _corrupt_jpeg,
        "broken/notes.txt.jpg": lambda: b"Shopping list: film, batteries, sunscreen\n",
    }
    written = []
    for name, make in makers.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        written.append(path)
    return written


def _landscape(size: tuple[int, int], seed: int) -> Image.Image:
    """Sky, hills, a lake and a sun, laid out from the seed: every sample is a distinct picture (the
    same layout in other colours would be, to `imgpipe duplicates`, the same photo re-tinted)."""
    rng = random.Random(seed)
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    horizon = round(h * rng.uniform(0.35, 0.7))
    sky_top = (40 + 30 * seed % 120, 90 + 17 * seed % 100, 200)
    for y in range(horizon):
        shade = y / horizon
        draw.line([(0, y), (w, y)], fill=tuple(int(c + (255 - c) * shade * 0.6) for c in sky_top))
    draw.rectangle((0, horizon, w, h), fill=(60 + 20 * seed % 80, 120, 50))
    sun_x, sun_y, radius = (
        w * rng.uniform(0.05, 0.85),
        horizon * rng.uniform(0.1, 0.6),
        w * rng.uniform(0.04, 0.1),
    )
    draw.ellipse((sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), fill=(250, 220, 120))
    for _ in range(rng.randrange(1, 4)):  # hills
        left, peak = w * rng.uniform(-0.2, 0.6), w * rng.uniform(0.15, 0.45)
        top = horizon - h * rng.uniform(0.1, 0.3)
        shade = rng.randrange(70, 130)
        draw.polygon(
            [(left, horizon), (left + peak, top), (left + 2 * peak, horizon)], fill=(shade, shade + 10, 110)
        )
    lake_x, lake_w = w * rng.uniform(0.0, 0.6), w * rng.uniform(0.2, 0.4)
    lake_y = horizon + (h - horizon) * rng.uniform(0.2, 0.6)
    draw.ellipse((lake_x, lake_y, lake_x + lake_w, lake_y + (h - horizon) * 0.25), fill=(70, 110, 190))
    return image


def _jpeg(image: Image.Image, exif: Image.Exif | None = None, quality: int = 88) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=(exif or Image.Exif()).tobytes())
    return buffer.getvalue()


def _gps_exif(latitude: float, longitude: float) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "imgpipe sample generator"  # Make: honest about where the file came from
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2] = ("N" if latitude >= 0 else "S"), _dms(abs(latitude))
    gps[3], gps[4] = ("E" if longitude >= 0 else "W"), _dms(abs(longitude))
    return exif


def _dms(value: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10_000)
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(seconds, 10_000),
    )


def _gps_photo(latitude: float, longitude: float, seed: int) -> Callable[[], bytes]:
    return lambda: _jpeg(_landscape((1600, 1200), seed), _gps_exif(latitude, longitude))


def _rotated_phone_photo() -> bytes:
    """Stored landscape with EXIF orientation 6, as phones write portrait shots."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(_landscape((1600, 1200), 7), exif)


def _png_with_alpha() -> bytes:
    image = Image.new("RGBA", (600, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 50, 450, 350), fill=(230, 60, 40, 255))
    draw.text((250, 190), "imgpipe", fill=(255, 255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _heic() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    _landscape((1512, 2016), 11).save(buffer, "HEIF", quality=80)
    return buffer.getvalue()


def _large_jpeg() -> bytes:
    """24 MP (6000 x 4000): the size of a modern camera's output."""
    small = _landscape((1500, 1000), 5)
    noise = Image.effect_noise((6000, 4000), 24).convert("RGB")
    return _jpeg(Image.blend(small.resize((6000, 4000)), noise, 0.15), quality=90)


def _corrupt_jpeg() -> bytes:
    """A real JPEG cut off half-way, as an interrupted copy leaves it."""
    whole = _jpeg(_landscape((1200, 900), 3))
    return whole[: len(whole) // 2]
