"""EXIF GPS: signed decimal degrees from the camera's rationals; unusable blocks give a reason, not a crash."""

from __future__ import annotations

import io
from typing import Any

import pytest
from image_analysis.domain.models import GpsFix
from image_analysis.imaging.exif_gps import read_gps
from image_analysis.imaging.prepare import Limits, prepare
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from tests.imagegen import encode, exif_with, jpeg, scene

LIMITS = Limits(max_pixels=100_000_000, min_edge=16, bedrock_max_edge=1024, rekognition_max_edge=2048)
LAT_REF, LAT, LON_REF, LON, ALT_REF, ALT = 1, 2, 3, 4, 5, 6


def gps_exif(**tags: Any) -> Image.Exif:
    """An Exif whose GPS block holds exactly the given tags (LAT_REF=..., LAT=..., ...)."""
    exif = Image.Exif()
    ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    names = {"LAT_REF": LAT_REF, "LAT": LAT, "LON_REF": LON_REF, "LON": LON, "ALT_REF": ALT_REF, "ALT": ALT}
    for name, value in tags.items():
        ifd[names[name]] = value
    return exif


def dms(degrees: int, minutes: int, seconds: float) -> tuple[IFDRational, ...]:
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(round(seconds * 100), 100)


def through_a_file(exif: Image.Exif) -> Image.Exif:
    """The Exif as a reader sees it after a JPEG round trip (types as stored, e.g. BYTE refs as bytes)."""
    data = encode(scene((120, 120)), "JPEG", exif=exif.tobytes())
    return Image.open(io.BytesIO(data)).getexif()


@pytest.mark.parametrize(
    ("where", "latitude", "longitude"),
    [
        ("Eiffel Tower (N, E)", 48.8584, 2.2945),
        ("Sydney Opera House (S, E)", -33.8568, 151.2153),
        ("Statue of Liberty (N, W)", 40.6892, -74.0445),
        ("Christ the Redeemer (S, W)", -22.9519, -43.2105),
    ],
)
def test_hemisphere_references_give_the_sign(where: str, latitude: float, longitude: float) -> None:
    prepared = prepare(jpeg((200, 150), gps=(latitude, longitude)), LIMITS)
    assert prepared.gps is not None, where
    assert prepared.gps.latitude == pytest.approx(latitude, abs=1e-5)
    assert prepared.gps.longitude == pytest.approx(longitude, abs=1e-5)
    assert prepared.notes == ()


def test_degrees_minutes_seconds_become_decimal_degrees() -> None:
    exif = gps_exif(LAT_REF="N", LAT=dms(48, 51, 30.24), LON_REF="E", LON=dms(2, 17, 40.2))
    assert read_gps(exif) == (GpsFix(48.8584, 2.2945), None)


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "signs"),
    [
        ("S", "W", (-1, -1)),
        (b"S\x00", b"W\x00", (-1, -1)),
        ("s", "w", (-1, -1)),
        ("N", "E", (1, 1)),
        (" N ", b"E\x00", (1, 1)),
    ],
    ids=["letters", "bytes", "lower-case", "north-east", "padded"],
)
def test_reference_spellings(lat_ref: Any, lon_ref: Any, signs: tuple[int, int]) -> None:
    tags: dict[str, Any] = {
        "LAT": dms(10, 30, 0),
        "LON": dms(20, 15, 0),
        "LAT_REF": lat_ref,
        "LON_REF": lon_ref,
    }
    fix, problem = read_gps(gps_exif(**tags))
    assert problem is None and fix is not None
    assert (fix.latitude, fix.longitude) == (signs[0] * 10.5, signs[1] * 20.25)


@pytest.mark.parametrize(
    "refs",
    [
        {},
        {"LAT_REF": "S"},
        {"LON_REF": "W"},
        {"LAT_REF": "", "LON_REF": ""},
        {"LAT_REF": "X", "LON_REF": "E"},
    ],
    ids=["none", "no-east-west", "no-north-south", "empty", "not-a-hemisphere"],
)
def test_coordinates_without_both_hemisphere_references_are_ignored_with_a_reason(
    refs: dict[str, str],
) -> None:
    # Given coordinates whose sign cannot be known (assuming north-east would put Rio in Asia)
    exif = gps_exif(LAT=dms(22, 57, 7), LON=dms(43, 12, 38), **refs)
    # When they are read
    fix, problem = read_gps(exif)
    # Then there is no fix to pass on as a hint, and the reason says why
    assert fix is None
    assert problem == "EXIF GPS has no N/S or E/W reference; coordinates ignored"


def test_a_photo_whose_gps_has_no_references_is_prepared_without_a_fix_and_with_a_note() -> None:
    exif = gps_exif(LAT=dms(48, 51, 30), LON=dms(2, 17, 40))
    prepared = prepare(encode(scene((200, 150)), "JPEG", exif=exif.tobytes()), LIMITS)
    assert prepared.gps is None
    assert "EXIF GPS has no N/S or E/W reference; coordinates ignored" in prepared.notes


@pytest.mark.parametrize(
    ("ref", "altitude", "expected"),
    [
        (0, IFDRational(8848, 1), 8848.0),  # Everest: above sea level
        (1, IFDRational(4305, 10), -430.5),  # Dead Sea shore: below sea level
        (None, IFDRational(120, 1), 120.0),  # no reference: above
    ],
    ids=["above", "below", "no-ref"],
)
def test_altitude_above_and_below_sea_level(ref: int | None, altitude: IFDRational, expected: float) -> None:
    tags: dict[str, Any] = {"LAT_REF": "N", "LAT": dms(31, 30, 0), "LON_REF": "E", "LON": dms(35, 30, 0)}
    tags["ALT"] = altitude
    if ref is not None:
        tags["ALT_REF"] = ref
    exif = gps_exif(**tags)
    # Both as built in memory and as read back from a file (where the BYTE reference is b"\x01")
    for candidate in (exif, through_a_file(exif)):
        fix, problem = read_gps(candidate)
        assert problem is None and fix is not None
        assert fix.altitude_m == expected


def test_a_malformed_altitude_keeps_the_position() -> None:
    exif = gps_exif(LAT_REF="N", LAT=dms(1, 0, 0), LON_REF="E", LON=dms(2, 0, 0), ALT=IFDRational(5, 0))
    fix, problem = read_gps(exif)
    assert fix == GpsFix(1.0, 2.0, None) and problem is None


def test_no_gps_block_is_no_fix_and_no_problem() -> None:
    assert read_gps(Image.Exif()) == (None, None)
    assert read_gps(exif_with(orientation=6)) == (None, None)


def test_a_gps_block_without_coordinates_is_no_fix_and_no_problem() -> None:
    assert read_gps(gps_exif(LAT_REF="N", ALT=IFDRational(10, 1))) == (None, None)


def test_zero_zero_is_treated_as_no_fix_with_a_reason() -> None:
    # Given a camera that wrote 0,0 because it had no fix
    prepared = prepare(jpeg((200, 150), gps=(0.0, 0.0)), LIMITS)
    # Then there is no position, and the notes say why
    assert prepared.gps is None
    assert any("0,0" in note for note in prepared.notes), prepared.notes


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(dms(95, 0, 0), dms(10, 0, 0)), (dms(45, 0, 0), dms(190, 0, 0))],
    ids=["latitude-95", "longitude-190"],
)
def test_out_of_range_coordinates_are_refused_with_a_reason(
    latitude: tuple[IFDRational, ...], longitude: tuple[IFDRational, ...]
) -> None:
    fix, problem = read_gps(gps_exif(LAT_REF="N", LAT=latitude, LON_REF="E", LON=longitude))
    assert fix is None
    assert problem is not None and "out of range" in problem


@pytest.mark.parametrize(
    "latitude",
    [
        (IFDRational(48, 0), IFDRational(0, 1), IFDRational(0, 1)),  # division by zero: NaN
        "forty-eight",
        b"\x00\x01",
        None,
        (),
        ("48", "x"),
    ],
    ids=["zero-denominator", "text", "bytes", "none", "empty", "non-numeric-part"],
)
def test_malformed_coordinates_give_a_reason_instead_of_raising(latitude: Any) -> None:
    fix, problem = read_gps(gps_exif(LAT_REF="N", LAT=latitude, LON_REF="E", LON=dms(2, 0, 0)))
    assert fix is None
    assert problem is not None and "malformed" in problem


def test_malformed_coordinates_in_a_file_are_noted_and_the_image_still_prepared() -> None:
    exif = gps_exif(LAT_REF="N", LAT=(IFDRational(48, 0), IFDRational(0, 1), IFDRational(0, 1)))
    exif.get_ifd(ExifTags.IFD.GPSInfo)[LON_REF] = "E"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[LON] = dms(2, 0, 0)
    data = encode(scene((200, 150)), "JPEG", exif=exif.tobytes())
    prepared = prepare(data, LIMITS)
    assert prepared.gps is None and prepared.rekognition.width == 200
    assert any("GPS" in note and "malformed" in note for note in prepared.notes), prepared.notes
