"""EXIF GPS: the coordinates a camera or phone wrote into the photo (pure; no geocoding here)."""

from __future__ import annotations

import math
from typing import Any

from PIL import ExifTags, Image

from ..domain.models import GpsFix

_LAT_REF, _LAT, _LON_REF, _LON, _ALT_REF, _ALT = 1, 2, 3, 4, 5, 6


def read_gps(exif: Image.Exif) -> tuple[GpsFix | None, str | None]:
    """The GPS fix, or None; the second value explains a GPS block that was present but unusable."""
    try:
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except Exception as exc:
        return None, f"EXIF GPS block unreadable ({type(exc).__name__})"
    if not ifd or _LAT not in ifd or _LON not in ifd:
        return None, None
    try:
        latitude, longitude = _degrees(ifd[_LAT]), _degrees(ifd[_LON])
    except (TypeError, ValueError, ZeroDivisionError, IndexError) as exc:
        return None, f"EXIF GPS coordinates malformed ({exc})"
    if not (abs(latitude) <= 90 and abs(longitude) <= 180):
        return None, f"EXIF GPS coordinates out of range ({latitude}, {longitude})"
    if latitude == 0 and longitude == 0:
        # 0,0 is what many cameras write when they had no fix.
        return None, "EXIF GPS is 0,0 (no fix); ignored"
    north_south, east_west = _hemisphere(ifd.get(_LAT_REF), "NS"), _hemisphere(ifd.get(_LON_REF), "EW")
    if north_south is None or east_west is None:
        # The sign lives only in the references: guessing north-east would put Rio de Janeiro in
        # Asia, and a wrong place handed to Claude as a hint is worse than none.
        return None, "EXIF GPS has no N/S or E/W reference; coordinates ignored"
    latitude = -latitude if north_south == "S" else latitude
    longitude = -longitude if east_west == "W" else longitude
    return GpsFix(round(latitude, 6), round(longitude, 6), _altitude(ifd)), None


def _degrees(value: Any) -> float:
    """Degrees, minutes, seconds as rationals -> decimal degrees."""
    parts = [float(v) for v in value] if isinstance(value, (tuple, list)) else [float(value)]
    if not parts:
        raise ValueError("no degrees")  # an empty value is not 0°
    parts += [0.0] * (3 - len(parts))
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    if math.isnan(degrees) or math.isinf(degrees):
        raise ValueError("not a number")
    return degrees


def _hemisphere(ref: Any, letters: str) -> str | None:
    """The hemisphere letter of a reference tag as cameras write it ("S", b"S\\x00", "s "), or None."""
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    letter = str(ref or "").strip(" \x00").upper()[:1]
    return letter if letter and letter in letters else None


def _altitude(ifd: dict[int, Any]) -> float | None:
    try:
        altitude = float(ifd[_ALT])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if math.isnan(altitude) or math.isinf(altitude):
        return None
    below_sea = ifd.get(_ALT_REF) in (1, b"\x01")
    return round(-altitude if below_sea else altitude, 1)
