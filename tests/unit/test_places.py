"""location_conflict: does the photo's GPS place disagree with the model's country or city?
(domain/places.py; the rules are in its docstring)."""

from __future__ import annotations

import pytest
from image_analysis.domain.models import Location, LocationConflict, Place
from image_analysis.domain.places import location_conflict, normalise

PARIS = Place("Paris", "Île-de-France", "France", "FR", distance_km=1.2)
LONDON = Place("London", "England", "Britain (UK)", "GB", distance_km=0.8)  # tzdata's name for GB
NEW_YORK = Place("New York City", "New York", "United States", "US", distance_km=2.0)
BROOKLYN = Place("Brooklyn", "New York", "United States", "US", distance_km=1.0)
ABIDJAN = Place("Abidjan", "Abidjan", "Côte d'Ivoire", "CI", distance_km=3.0)
SEOUL = Place("Seoul", "Seoul", "Korea (South)", "KR", distance_km=1.0)
FAR_TOWN = Place("Chamonix", "Auvergne-Rhône-Alpes", "France", "FR", distance_km=40.0)


def said(country: str | None = None, city: str | None = None) -> Location:
    return Location("Somewhere", None, city, None, country, 0.5, "m")


@pytest.mark.parametrize(
    ("place", "country"),
    [
        (PARIS, "France"),
        (PARIS, "FRANCE"),
        (PARIS, "fr"),
        (PARIS, " France. "),
        (LONDON, "United Kingdom"),
        (LONDON, "UK"),
        (LONDON, "England"),
        (LONDON, "Great Britain"),
        (LONDON, "GB"),
        (NEW_YORK, "USA"),
        (NEW_YORK, "US"),
        (NEW_YORK, "United States of America"),
        (NEW_YORK, "the United States"),
        (ABIDJAN, "Ivory Coast"),
        (ABIDJAN, "Cote d'Ivoire"),
        (ABIDJAN, "CÔTE D’IVOIRE"),
        (SEOUL, "South Korea"),
        (SEOUL, "Korea"),
    ],
)
def test_the_same_country_under_another_spelling_is_no_conflict(place: Place, country: str) -> None:
    assert location_conflict(place, said(country=country)) is None


@pytest.mark.parametrize(
    ("place", "country"),
    [(PARIS, "Italy"), (LONDON, "Ireland"), (NEW_YORK, "Canada"), (SEOUL, "North Korea"), (PARIS, "US")],
)
def test_another_country_is_a_conflict_that_says_what_disagreed(place: Place, country: str) -> None:
    conflict = location_conflict(place, said(country=country, city=place.city))
    assert conflict == LocationConflict(
        field="country",
        gps=str(place.country),
        model=country,
        reason=f"country: GPS says {place.country}, the model says {country}",
    )


@pytest.mark.parametrize(
    ("place", "city"),
    [
        (PARIS, "paris"),
        (PARIS, "PARÍS"),
        (NEW_YORK, "New York"),  # one name contains the other
        (BROOKLYN, "New York"),  # the GPS town's region
        (PARIS, None),
        (PARIS, ""),
    ],
)
def test_the_same_city_or_an_unknown_one_is_no_conflict(place: Place, city: str | None) -> None:
    assert location_conflict(place, said(country=place.country, city=city)) is None


def test_another_city_in_the_same_or_an_unknown_country_is_a_city_conflict() -> None:
    for country in ("France", None):
        conflict = location_conflict(PARIS, said(country=country, city="Lyon"))
        assert conflict is not None and (conflict.field, conflict.gps, conflict.model) == (
            "city",
            "Paris",
            "Lyon",
        )
        assert conflict.reason == "city: GPS says Paris, the model says Lyon"


def test_a_gps_town_far_from_the_coordinates_is_not_compared_by_city() -> None:
    assert location_conflict(FAR_TOWN, said(country="France", city="Annecy")) is None


def test_nothing_to_compare_is_no_conflict() -> None:
    assert location_conflict(None, said(country="Italy")) is None
    assert location_conflict(PARIS, None) is None
    assert location_conflict(PARIS, said()) is None
    assert location_conflict(Place(None, None, None, None), said(country="Italy", city="Rome")) is None


def test_names_are_folded_for_comparison() -> None:
    assert normalise("  Côte d’Ivoire ") == "cote d ivoire"
    assert normalise("Bosnia & Herzegovina") == "bosnia and herzegovina"
    assert normalise("The Netherlands") == "netherlands"
