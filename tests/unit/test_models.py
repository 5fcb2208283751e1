"""The result document: JSON round trip, the human-readable text, and the label index for DynamoDB."""

from __future__ import annotations

import json
from dataclasses import replace

from image_analysis.domain.models import (
    SCHEMA_VERSION,
    Analyses,
    AnalysisOutcome,
    Box,
    Cost,
    Gps,
    ImageError,
    ImageInfo,
    ImageResult,
    Label,
    Location,
    Moderation,
    ModerationLabel,
    Place,
    TextLine,
    render_text,
)
from image_analysis.domain.records import MAX_LABEL_ITEMS, label_index, record_from_result
from image_analysis.domain.states import AnalysisStatus, ImageStatus

from tests.support import LAYOUT

INFO = ImageInfo(
    bucket="photos",
    key="images/trip/eiffel.jpg",
    version_id="v1",
    etag="abc",
    size_bytes=123_456,
    sha256="0" * 64,
    format="JPEG",
    width=4032,
    height=3024,
)
PARIS = Place(city="Paris", region="Île-de-France", country="France", country_code="FR", distance_km=0.4)
LOCATION = Location(
    description="Eiffel Tower seen from the Trocadéro, Paris",
    place="Eiffel Tower",
    city="Paris",
    region="Île-de-France",
    country="France",
    confidence=0.93,
    model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    input_tokens=1500,
    output_tokens=80,
)
FULL = ImageResult(
    image=INFO,
    status=ImageStatus.PARTIAL,
    processed_at="2026-03-01T12:00:00Z",
    settings_fingerprint="0123456789abcdef",
    analyses=Analyses(
        location=LOCATION,
        gps=Gps(latitude=48.8584, longitude=2.2945, altitude_m=35.2, place=PARIS),
        labels=[
            Label(
                name="Tower",
                confidence=99.1,
                parents=["Building", "Architecture"],
                categories=["Buildings and Architecture"],
                instances=[Box(left=0.4, top=0.05, width=0.2, height=0.9)],
            ),
            Label(name="City", confidence=88.0, parents=["Urban"]),
        ],
        text=[
            TextLine(text="PARIS 2026", confidence=97.5, box=Box(0.1, 0.8, 0.3, 0.05)),
            TextLine(text="Trocadéro", confidence=85.0),
        ],
        moderation=Moderation(
            flagged=True, labels=[ModerationLabel(name="Weapons", parent="Violence", confidence=71.0)]
        ),
        outcomes={
            "location": AnalysisOutcome(AnalysisStatus.OK, latency_ms=2100),
            "labels": AnalysisOutcome(AnalysisStatus.OK, latency_ms=400),
            "text": AnalysisOutcome(AnalysisStatus.OK, latency_ms=350),
            "moderation": AnalysisOutcome(AnalysisStatus.OK, latency_ms=300),
            "gps": AnalysisOutcome(AnalysisStatus.OK),
        },
    ),
    error=None,
    reused_from="images/trip/eiffel-copy.jpg",
    cost=Cost(rekognition_images=3, input_tokens=1500, output_tokens=80, estimated_usd=0.0078),
    notes=["EXIF partly corrupt; unreadable entries ignored"],
)


def only_labels(*labels: Label) -> ImageResult:
    return replace(FULL, analyses=Analyses(labels=list(labels)))


# --- JSON round trip ---------------------------------------------------------------------------------


def test_a_fully_populated_result_round_trips_through_json() -> None:
    document = json.loads(json.dumps(FULL.to_dict()))
    assert ImageResult.from_dict(document) == FULL


def test_the_document_is_versioned_and_plain_json() -> None:
    document = FULL.to_dict()
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["analyses"]["labels"][0]["instances"][0] == {
        "left": 0.4,
        "top": 0.05,
        "width": 0.2,
        "height": 0.9,
    }
    assert document["analyses"]["gps"]["place"]["country_code"] == "FR"
    assert json.loads(json.dumps(document)) == document
    assert type(document["status"]) is str and type(document["analyses"]["outcomes"]["gps"]["status"]) is str


def test_a_failed_result_round_trips_with_its_error() -> None:
    failed = ImageResult(
        image=replace(INFO, sha256=None, format=None, width=None, height=None),
        status=ImageStatus.FAILED,
        processed_at="2026-03-01T12:00:00Z",
        settings_fingerprint="0123456789abcdef",
        error=ImageError("too_small", "image is 79x79; both sides must be at least 80 px"),
    )
    document = json.loads(json.dumps(failed.to_dict()))
    assert ImageResult.from_dict(document) == failed
    assert document["analyses"]["location"] is None and document["analyses"]["labels"] == []


def test_a_minimal_document_from_an_older_writer_still_reads() -> None:
    document = {
        "image": {"bucket": "b", "key": "images/a.jpg", "version_id": None, "etag": None, "size_bytes": 1},
        "status": "complete",
        "processed_at": "2026-01-01T00:00:00Z",
        "settings_fingerprint": "f",
    }
    result = ImageResult.from_dict(document)
    assert result.analyses == Analyses() and result.cost == Cost() and result.notes == []
    assert result.schema_version == SCHEMA_VERSION


def test_flagged_follows_moderation() -> None:
    assert FULL.flagged
    assert not replace(FULL, analyses=replace(FULL.analyses, moderation=Moderation(flagged=False))).flagged
    assert not replace(FULL, analyses=Analyses()).flagged


# --- Text rendering ----------------------------------------------------------------------------------


def test_the_text_starts_with_the_location_then_gps_labels_and_text_lines() -> None:
    lines = render_text(FULL).splitlines()
    assert lines[0] == "Eiffel Tower seen from the Trocadéro, Paris"
    assert lines[1] == "GPS: 48.85840, 2.29450 (Paris, Île-de-France, France)"
    assert lines[2] == "Labels: Tower (99%), City (88%)"
    assert lines[3:6] == ["Text:", "  PARIS 2026", "  Trocadéro"]
    assert lines[6] == "Moderation: flagged (Weapons)"
    assert lines[-1] == "Same bytes as images/trip/eiffel-copy.jpg; its analysis was reused."
    assert render_text(FULL).endswith("\n")


def test_a_failed_result_says_why_on_its_first_line() -> None:
    failed = ImageResult(
        image=INFO,
        status=ImageStatus.FAILED,
        processed_at="2026-03-01T12:00:00Z",
        settings_fingerprint="f",
        error=ImageError("not_an_image", "not an image: the file is a PDF document"),
    )
    assert render_text(failed).splitlines()[0] == "Not analysed: not an image: the file is a PDF document"


def test_with_only_gps_the_first_line_names_the_gps_place() -> None:
    gps_only = replace(FULL, analyses=Analyses(gps=Gps(48.8584, 2.2945, place=PARIS)), reused_from=None)
    first = render_text(gps_only).splitlines()[0]
    assert first.startswith("Taken near Paris, Île-de-France, France")
    assert "GPS" in first


def test_without_location_or_gps_place_the_location_is_unknown() -> None:
    nothing = replace(FULL, analyses=Analyses(gps=Gps(10.0, 20.0)), reused_from=None)
    lines = render_text(nothing).splitlines()
    assert lines[0] == "Location unknown"
    assert lines[1] == "GPS: 10.00000, 20.00000 (unknown place)"


def test_skipped_and_failed_analyses_are_listed_with_their_reasons() -> None:
    analyses = Analyses(
        labels=[Label("Beach", 91.0)],
        moderation=Moderation(flagged=False),
        outcomes={
            "location": AnalysisOutcome(AnalysisStatus.SKIPPED, reason="flagged by moderation"),
            "text": AnalysisOutcome(AnalysisStatus.FAILED, reason="InvalidImageFormatException"),
            "labels": AnalysisOutcome(AnalysisStatus.OK),
            "gps": AnalysisOutcome(AnalysisStatus.SKIPPED),
        },
    )
    lines = render_text(replace(FULL, analyses=analyses, reused_from=None)).splitlines()
    assert lines[0] == "Location not analysed (flagged by moderation)"
    assert "Labels: Beach (91%)" in lines
    assert "Moderation: nothing unsafe found" in lines
    assert lines[-3:] == [
        "gps: skipped",
        "location: skipped (flagged by moderation)",
        "text: failed (InvalidImageFormatException)",
    ]
    assert not any(line.startswith("labels:") for line in lines)


# --- Label index and table record --------------------------------------------------------------------


def test_the_label_index_includes_parents_with_their_best_confidence() -> None:
    index = label_index(
        only_labels(
            Label("Car", 90.0, parents=["Vehicle", "Transportation"]),
            Label("Truck", 95.5, parents=["Vehicle"]),
            Label("Vehicle", 70.0),
            Label("Wheel", 60.0, parents=["Machine"]),
        )
    )
    assert index == {
        "truck": 95.5,
        "vehicle": 95.5,
        "car": 90.0,
        "transportation": 90.0,
        "wheel": 60.0,
        "machine": 60.0,
    }


def test_label_names_are_normalised_so_spellings_meet() -> None:
    index = label_index(only_labels(Label("Hot  Air Balloon", 80.0), Label("hot air balloon", 85.0)))
    assert index == {"hot air balloon": 85.0}


def test_the_label_index_keeps_the_most_confident_names_up_to_the_cap() -> None:
    labels = [Label(f"Label {i:02}", float(i), parents=[f"Parent {i:02}"]) for i in range(50)]
    index = label_index(only_labels(*labels))
    assert len(index) == MAX_LABEL_ITEMS == 40
    assert min(index.values()) == 30.0 and max(index.values()) == 49.0
    assert "label 49" in index and "parent 49" in index and "label 29" not in index


def test_the_table_record_carries_what_analysts_query() -> None:
    layout = LAYOUT
    record = record_from_result(FULL, layout, version_tag="v1", updated_at="2026-03-01T12:00:01Z")
    assert record["result_key"] == "results/trip/eiffel.jpg.json"
    assert record["text_key"] == "results/trip/eiffel.jpg.txt"
    assert (record["location"], record["city"], record["country"]) == (
        LOCATION.description,
        "Paris",
        "France",
    )
    assert record["labels"] == ["Tower", "City"]
    assert record["text"] == "PARIS 2026\nTrocadéro" and record["text_lc"] == "paris 2026\ntrocadéro"
    assert record["flagged"] is True and record["moderation"] == ["Weapons"]
    assert record["latitude"] == 48.8584 and record["error_code"] is None


def test_the_table_record_falls_back_to_the_gps_place() -> None:
    layout = LAYOUT
    gps_only = replace(FULL, analyses=Analyses(gps=Gps(48.85, 2.35, place=PARIS)))
    record = record_from_result(gps_only, layout, version_tag="v1", updated_at="t")
    assert (record["location"], record["city"], record["country"]) == (None, "Paris", "France")
    assert record["flagged"] is False and record["text"] is None


def test_a_record_for_an_image_whose_result_keys_do_not_fit_has_no_result_keys() -> None:
    layout = LAYOUT
    long_key = "images/" + "k" * (1020 - len("images/"))
    result = replace(
        FULL,
        image=replace(INFO, key=long_key),
        status=ImageStatus.FAILED,
        error=ImageError("key_too_long", "m"),
    )
    record = record_from_result(result, layout, version_tag="v1", updated_at="t")
    assert record["result_key"] is None and record["text_key"] is None
    assert record["error_code"] == "key_too_long"
