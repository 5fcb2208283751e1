"""One fingerprint per analysis: a change of settings marks exactly the analyses it shapes as stale,
so a backfill refreshes those and nothing else (fingerprints.py)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
from image_analysis.fingerprints import (
    ANALYSES,
    ANALYSIS_INPUTS,
    IMAGE_INPUTS,
    SHAPES_NO_ANSWER,
    analysis_fingerprint,
    analysis_fingerprints,
    changed_analyses,
)
from image_analysis.settings import Settings

BASE = Settings(results_table="imgpipe-results", vector_bucket="vectors", vector_index="images")
REKOGNITION = {"labels", "text", "moderation", "faces", "comprehension", "people"}


def test_every_setting_shapes_some_analysis_or_is_declared_to_shape_none() -> None:
    # A knob added without a place here would never make a record stale: the test names it.
    inputs = {name for names in ANALYSIS_INPUTS.values() for name in names} | set(IMAGE_INPUTS)
    unplaced = {f.name for f in fields(Settings)} - inputs - SHAPES_NO_ANSWER
    assert unplaced == set()
    assert inputs & SHAPES_NO_ANSWER == set()


@pytest.mark.parametrize(
    ("change", "stale"),
    [
        ({"enable_embeddings": False}, {"embedding"}),
        ({"embedding_model_id": "amazon.titan-embed-image-v2"}, {"embedding"}),
        ({"embedding_dimension": 256}, {"embedding"}),
        ({"bedrock_model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}, {"location"}),
        ({"bedrock_max_edge": 768}, {"location", "embedding"}),  # both read the Bedrock rendition
        ({"labels_min_confidence": 90.0}, {"labels"}),
        ({"text_min_confidence": 90.0}, {"text", "comprehension"}),  # Comprehend reads that text
        ({"comprehension_min_score": 0.5}, {"comprehension"}),
        ({"faces_min_confidence": 80.0}, {"faces"}),
        ({"rekognition_max_edge": 1024}, REKOGNITION),
        ({"enable_gps": False}, {"gps", "location"}),  # the GPS place is Claude's hint
        ({"min_image_edge": 32}, set(ANALYSES)),  # may turn a refusal into an analysis
        ({"simulated_ai": True}, set(ANALYSES)),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_a_change_marks_exactly_the_analyses_it_shapes(change: dict[str, Any], stale: set[str]) -> None:
    # Given a record made under the defaults, When one setting changes
    recorded = analysis_fingerprints(BASE)
    # Then just the analyses that setting shapes are stale
    assert changed_analyses(recorded, replace(BASE, **change)) == stale


@pytest.mark.parametrize(
    "change",
    [
        {"price_embedding_image_usd": 0.0001},
        {"embedding_read_timeout_s": 30.0},
        {"max_attempts": 5},
        {"vector_bucket": "other", "vector_index": "other"},
        {"input_prefix": "photos/", "output_prefix": "analysis/"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_names_prices_and_client_behaviour_make_nothing_stale(change: dict[str, Any]) -> None:
    assert changed_analyses(analysis_fingerprints(BASE), replace(BASE, **change)) == frozenset()
    assert analysis_fingerprint(replace(BASE, **change)) == analysis_fingerprint(BASE)


def test_the_moderation_threshold_shapes_the_location_only_while_it_gates_claude() -> None:
    gated = replace(BASE, skip_location_if_flagged=True)
    assert changed_analyses(analysis_fingerprints(BASE), replace(BASE, moderation_min_confidence=80.0)) == {
        "moderation"
    }
    assert changed_analyses(analysis_fingerprints(gated), replace(gated, moderation_min_confidence=80.0)) == {
        "moderation",
        "location",
    }


def test_a_record_without_per_analysis_fingerprints_needs_everything_again() -> None:
    assert changed_analyses(None, BASE) is None
    assert changed_analyses({}, BASE) is None


def test_the_overall_fingerprint_follows_any_analysis_fingerprint() -> None:
    assert analysis_fingerprint(replace(BASE, labels_max=5)) != analysis_fingerprint(BASE)
    assert len(analysis_fingerprint(BASE)) == 16
