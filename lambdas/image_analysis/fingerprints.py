"""Which settings shape which analysis, and the fingerprint of each analysis' own settings.

A record keeps one fingerprint per analysis. After a change of settings (embeddings switched on, a
new Claude model, a labels threshold), a backfill refreshes only the analyses whose fingerprint
changed: a new embedding model costs one embedding call per image, not a whole analysis again.

Every setting is either an input of some analysis below or listed in SHAPES_NO_ANSWER; a unit test
keeps it so, so a new knob cannot be forgotten here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Final

from .settings import Settings

# What the image is, before any analysis: a change here may turn a refusal into an analysis (or back).
IMAGE_INPUTS: Final = ("max_image_bytes", "max_image_pixels", "min_image_edge", "simulated_ai")
REKOGNITION_RENDITION: Final = ("rekognition_max_edge",)
BEDROCK_RENDITION: Final = ("bedrock_max_edge",)

ANALYSIS_INPUTS: Final[Mapping[str, tuple[str, ...]]] = {
    "location": (
        "enable_location", "bedrock_model_id", "bedrock_max_tokens", "bedrock_temperature",
        "skip_location_if_flagged", "enable_gps", *BEDROCK_RENDITION,  # the GPS place is a hint
    ),
    "gps": ("enable_gps",),
    "labels": ("enable_labels", "labels_max", "labels_min_confidence", *REKOGNITION_RENDITION),
    "text": ("enable_text", "text_min_confidence", *REKOGNITION_RENDITION),
    "moderation": ("enable_moderation", "moderation_min_confidence", *REKOGNITION_RENDITION),
    "faces": ("enable_faces", "faces_min_confidence", "faces_emotion_min_confidence", *REKOGNITION_RENDITION),
    # Comprehend reads the text Rekognition found: whatever changes the text changes it too.
    "comprehension": (
        "enable_comprehension", "comprehension_min_chars", "comprehension_min_score",
        "enable_text", "text_min_confidence", *REKOGNITION_RENDITION,
    ),
    "people": ("enable_people", *REKOGNITION_RENDITION),
    "embedding": ("enable_embeddings", "embedding_model_id", "embedding_dimension", *BEDROCK_RENDITION),
}  # fmt: skip
ANALYSES: Final = tuple(ANALYSIS_INPUTS)
# What each analysis records, versioned: bump one when its answer gains or changes a field, so a
# backfill refreshes that analysis (and only that one) on images analysed before.
ANSWER_VERSIONS: Final[Mapping[str, int]] = {name: 1 for name in ANALYSES}

# Settings that change where things live, how long a client waits or what a call is priced at, never
# what an analysis finds.
SHAPES_NO_ANSWER: Final = frozenset(
    {
        "results_table", "input_prefix", "output_prefix", "vector_bucket", "vector_index",
        "people_collection",
        "max_attempts", "connect_timeout_s", "retry_delay_s", "claim_timeout_s", "content_cache_days",
        "bedrock_read_timeout_s", "rekognition_read_timeout_s", "comprehend_read_timeout_s",
        "embedding_read_timeout_s", "price_rekognition_image_usd", "price_bedrock_input_mtok_usd",
        "price_bedrock_output_mtok_usd", "price_comprehend_unit_usd", "price_embedding_image_usd",
    }
)  # fmt: skip


def analysis_fingerprints(settings: Settings) -> dict[str, str]:
    """One short hash per analysis, of its own inputs (and what every analysis depends on)."""
    values = asdict(settings)
    common = {name: values[name] for name in IMAGE_INPUTS}
    fingerprints = {}
    for analysis, inputs in ANALYSIS_INPUTS.items():
        shaped = common | {name: values[name] for name in inputs} | {"answer": ANSWER_VERSIONS[analysis]}
        if analysis == "location" and settings.skip_location_if_flagged and settings.enable_moderation:
            # Moderation then decides whether Claude is asked at all.
            shaped["moderation_min_confidence"] = settings.moderation_min_confidence
        fingerprints[analysis] = _digest(shaped)
    return fingerprints


def analysis_fingerprint(settings: Settings) -> str:
    """The fingerprint of all analyses together: the content cache reuses results only under it."""
    return _digest(analysis_fingerprints(settings))


def changed_analyses(recorded: Mapping[str, Any] | None, settings: Settings) -> frozenset[str] | None:
    """The analyses whose settings changed since `recorded` (a record's fingerprints); None when the
    record has none to compare (made before per-analysis fingerprints), so all must run again."""
    if not recorded:
        return None
    current = analysis_fingerprints(settings)
    return frozenset(name for name, fingerprint in current.items() if recorded.get(name) != fingerprint)


def _digest(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
