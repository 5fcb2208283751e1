"""Offline reverse geocoding of EXIF GPS coordinates (no network: the data ships in the package)."""

from __future__ import annotations

import math
from typing import Any

from .models import Place

MAX_DISTANCE_KM = 50.0  # farther than this from any town (at sea, in a desert) we name no place


def reverse_geocode(latitude: float, longitude: float) -> Place | None:
    """The nearest town, its region and country; None when no town is within MAX_DISTANCE_KM."""
    import reverse_geocode as rg  # loaded on first use: its city index costs ~0.7 s, once per process

    found: dict[str, Any] = rg.get((latitude, longitude))
    distance = haversine_km(latitude, longitude, float(found["latitude"]), float(found["longitude"]))
    if distance > MAX_DISTANCE_KM:
        return None
    return Place(
        city=found.get("city") or None,
        region=found.get("state") or None,
        country=found.get("country") or None,
        country_code=found.get("country_code") or None,
        distance_km=round(distance, 1),
    )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(a))
