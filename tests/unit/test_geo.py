"""Offline reverse geocoding: a GPS fix in a city names that city; far from any town names nothing."""

from __future__ import annotations

import pytest
from image_analysis.domain.models import Place
from image_analysis.imaging.geo import haversine_km, reverse_geocode


@pytest.mark.parametrize(
    ("latitude", "longitude", "city", "region", "country", "country_code"),
    [
        (48.8566, 2.3522, "Paris", "Île-de-France", "France", "FR"),
        (-33.8688, 151.2093, "Sydney", "New South Wales", "Australia", "AU"),
        (40.7128, -74.0060, "New York City", "New York", "United States", "US"),
    ],
    ids=["paris", "sydney", "new-york"],
)
def test_a_city_centre_names_its_city_region_and_country(
    latitude: float, longitude: float, city: str, region: str, country: str, country_code: str
) -> None:
    place = reverse_geocode(latitude, longitude)
    assert isinstance(place, Place)
    assert (place.city, place.region, place.country, place.country_code) == (
        city,
        region,
        country,
        country_code,
    )
    assert place.distance_km is not None and 0 <= place.distance_km < 2


def test_tokyo_is_named_by_its_prefecture_and_country() -> None:
    # Tokyo's data set splits the city into wards and towns; the prefecture and country are stable.
    place = reverse_geocode(35.6812, 139.7671)  # Tokyo Station
    assert place is not None
    assert (place.region, place.country, place.country_code) == ("Tokyo", "Japan", "JP")
    assert place.city and place.distance_km is not None and place.distance_km < 5


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(30.0, -40.0), (0.0, -160.0), (-60.0, 90.0)],
    ids=["mid-atlantic", "mid-pacific", "southern-ocean"],
)
def test_a_point_far_from_any_town_names_no_place(latitude: float, longitude: float) -> None:
    assert reverse_geocode(latitude, longitude) is None


def test_haversine_distance_between_known_cities() -> None:
    # Paris -> London is about 344 km; a point to itself is 0
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(344, abs=3)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0
    # symmetric, and a quarter of the meridian is about 10,000 km
    assert haversine_km(0, 0, 90, 0) == pytest.approx(10_008, abs=5)
    assert haversine_km(1, 2, 3, 4) == pytest.approx(haversine_km(3, 4, 1, 2))
