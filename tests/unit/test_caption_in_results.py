"""Caption, keywords, location clues and a location conflict in the result document, its text and the
table record; documents written before they existed still read."""

from __future__ import annotations

from dataclasses import replace

from image_analysis.domain import table as t
from image_analysis.domain.models import (
    Analyses,
    Caption,
    ImageResult,
    LocationConflict,
    render_text,
)
from image_analysis.domain.records import record_from_result

from tests.support import LAYOUT
from tests.unit.test_models import FULL, LOCATION

CAPTION = Caption(
    text="The Eiffel Tower rises behind the Trocadéro fountains.",
    alt_text="Eiffel Tower behind fountains",
    keywords=["eiffel tower", "fountain", "paris"],
)
CONFLICT = LocationConflict("country", "France", "Italy", "country: GPS says France, the model says Italy")
RICH = replace(
    FULL,
    analyses=replace(
        FULL.analyses,
        location=replace(LOCATION, evidence=["Iron lattice tower", "Trocadéro fountains"]),
        caption=CAPTION,
        location_conflict=CONFLICT,
    ),
)


def test_the_new_fields_round_trip_through_json() -> None:
    document = RICH.to_dict()
    assert document["analyses"]["caption"] == {
        "text": CAPTION.text,
        "alt_text": CAPTION.alt_text,
        "keywords": CAPTION.keywords,
    }
    assert document["analyses"]["location_conflict"]["field"] == "country"
    assert document["analyses"]["location"]["evidence"] == ["Iron lattice tower", "Trocadéro fountains"]
    assert ImageResult.from_dict(document) == RICH


def test_a_document_from_before_the_caption_still_reads() -> None:
    document = FULL.to_dict()
    for name in ("caption", "location_conflict"):
        del document["analyses"][name]
    del document["analyses"]["location"]["evidence"]
    result = ImageResult.from_dict(document)
    assert result.analyses.caption is None and result.analyses.location_conflict is None
    assert result.analyses.location is not None and result.analyses.location.evidence == []
    assert not result.has_location_conflict


def test_the_text_shows_caption_clues_conflict_and_keywords() -> None:
    lines = render_text(RICH).splitlines()
    assert lines[0] == LOCATION.description
    assert lines[1] == f"Caption: {CAPTION.text}"
    assert lines[2] == "Clues: Iron lattice tower; Trocadéro fountains"
    assert "Location conflict: country: GPS says France, the model says Italy" in lines
    assert "Keywords: eiffel tower, fountain, paris" in lines


def test_without_them_the_text_has_none_of_those_lines() -> None:
    text = render_text(replace(FULL, analyses=replace(FULL.analyses, caption=None)))
    assert not any(w in text for w in ("Caption:", "Clues:", "Location conflict:", "Keywords:"))


def test_the_record_carries_caption_keywords_and_the_conflict_in_a_sparse_index() -> None:
    record = record_from_result(RICH, LAYOUT, version_tag="v1", updated_at="2026-03-01T12:00:01Z")
    assert (record["caption"], record["alt_text"], record["keywords"]) == (
        CAPTION.text,
        CAPTION.alt_text,
        CAPTION.keywords,
    )
    assert record["location_conflict"] is True and record["location_conflict_reason"] == CONFLICT.reason
    assert record[t.LOCATION_CONFLICT.partition_key] == t.LOCATION_CONFLICT_PK
    assert record[t.LOCATION_CONFLICT.sort_key].startswith("2026-03-01T12:00:01Z#")


def test_a_record_without_conflict_stays_out_of_the_conflict_index() -> None:
    plain = replace(FULL, analyses=Analyses(location=LOCATION))
    record = record_from_result(plain, LAYOUT, version_tag="v1", updated_at="t")
    assert record["location_conflict"] is False and record["location_conflict_reason"] is None
    assert (record["caption"], record["alt_text"], record["keywords"]) == (None, None, [])
    assert t.LOCATION_CONFLICT.partition_key not in record
