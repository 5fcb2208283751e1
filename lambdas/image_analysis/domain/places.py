"""Do the photo's GPS place and the model's answer name the same place? (`location_conflict`)

The GPS place comes from the image's EXIF, reverse-geocoded offline (imaging/geo.py: country names from
tzdata's iso3166.tab, e.g. "Britain (UK)", with ISO codes); the model's country and city are free text
("UK", "United States", "Côte d'Ivoire"). Names are compared after folding case, accents, punctuation
and "&"/"and", with a parenthesised part as an alternative name, ISO codes and a short alias table.

The rules, in order (a conflict is a flag for a person to judge, with the clues, never a correction):
  1. No GPS place, or no model answer: no conflict (nothing to compare).
  2. Countries: both named and different: a country conflict. An empty model field is "unknown", not a
     disagreement.
  3. Cities: only when the countries agree or one is unknown, and both name a city. They agree when one
     name contains the other ("New York" / "New York City") or the model's city is the GPS place's
     region (the GPS town is the nearest one, often a suburb: "Boulogne-Billancourt" for a photo the
     model places in "Paris" would still conflict, and that is worth a look). A GPS town farther than
     CITY_TRUST_KM from the coordinates is not trusted for a city comparison.
"""

from __future__ import annotations

import re
import unicodedata

from .models import Location, LocationConflict, Place

CITY_TRUST_KM = 25.0

# Common names a model gives that tzdata's table spells otherwise (keys are ISO 3166 alpha-2 codes).
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("usa", "united states", "united states of america", "america", "us"),
    "GB": (
        "uk",
        "united kingdom",
        "great britain",
        "britain",
        "england",
        "scotland",
        "wales",
        "northern ireland",
        "gbr",
    ),
    "KR": ("south korea", "republic of korea"),
    "KP": ("north korea", "democratic people's republic of korea"),
    "CZ": ("czechia", "czech republic"),
    "NL": ("netherlands", "holland", "the netherlands"),
    "RU": ("russia", "russian federation"),
    "AE": ("uae", "united arab emirates"),
    "CD": ("democratic republic of the congo", "dr congo", "drc"),
    "CG": ("republic of the congo", "congo"),
    "CI": ("ivory coast", "cote d'ivoire"),
    "MM": ("myanmar", "burma"),
    "SZ": ("eswatini", "swaziland"),
    "TR": ("turkey", "turkiye"),
    "VA": ("vatican", "vatican city", "holy see"),
    "CN": ("china", "people's republic of china", "prc"),
    "TW": ("taiwan", "republic of china"),
    "DE": ("germany", "deutschland"),
    "ES": ("spain", "espana"),
    "IT": ("italy", "italia"),
    "JP": ("japan", "nippon", "nihon"),
    "CH": ("switzerland", "schweiz", "suisse", "svizzera"),
    "AT": ("austria", "osterreich"),
    "MX": ("mexico",),
    "BR": ("brazil", "brasil"),
    "IE": ("ireland", "eire"),
    "PS": ("palestine", "palestinian territories"),
}


def location_conflict(gps_place: Place | None, location: Location | None) -> LocationConflict | None:
    """What the GPS place and the model's answer disagree on, or None (see the module's rules)."""
    if gps_place is None or location is None:
        return None
    if gps_place.country and location.country and not same_country(location.country, gps_place):
        return _conflict("country", gps_place.country, location.country)
    trusted = gps_place.distance_km is None or gps_place.distance_km <= CITY_TRUST_KM
    if gps_place.city and location.city and trusted and not same_city(location.city, gps_place):
        return _conflict("city", gps_place.city, location.city)
    return None


def same_country(name: str, place: Place) -> bool:
    """True when `name` (the model's) is the place's country under any of its names or its code."""
    claimed = _variants(name)
    known = _variants(place.country or "")
    code = (place.country_code or "").upper()
    if code:
        known |= {code.lower(), *(normalise(alias) for alias in COUNTRY_ALIASES.get(code, ()))}
    return bool(claimed & known)


def same_city(name: str, place: Place) -> bool:
    claimed, city = normalise(name), normalise(place.city or "")
    if not claimed or not city:
        return True
    region = normalise(place.region or "")
    return _contains_words(claimed, city) or _contains_words(city, claimed) or claimed == region


def normalise(name: str) -> str:
    """Case, accents, punctuation and "&" folded away: "Côte d'Ivoire" -> "cote d ivoire"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().replace("&", " and "))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = re.sub(r"[^\w]+", " ", plain).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


def _variants(name: str) -> set[str]:
    """The name, the name without its parenthesised part, and that part ("Britain (UK)": three)."""
    variants = {normalise(name)}
    inside = re.findall(r"\(([^)]*)\)", name)
    variants.add(normalise(re.sub(r"\([^)]*\)", " ", name)))
    variants.update(normalise(part) for part in inside)
    variants.update(normalise(alias) for aliases in _aliases_of(variants) for alias in aliases)
    return variants - {""}


def _aliases_of(variants: set[str]) -> list[tuple[str, ...]]:
    """The alias groups a name belongs to, plus its code ("usa" -> US's names and "us")."""
    groups = []
    for code, aliases in COUNTRY_ALIASES.items():
        names = {normalise(alias) for alias in aliases} | {code.lower()}
        if variants & names:
            groups.append((*aliases, code.lower()))
    return groups


def _contains_words(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "


def _conflict(field: str, gps: str, model: str) -> LocationConflict:
    return LocationConflict(
        field=field, gps=gps, model=model, reason=f"{field}: GPS says {gps}, the model says {model}"
    )
