"""Configuration: environment variables parsed once into one typed, validated object.

Every variable, its default and its meaning live once, in the fields below (`knob(default, doc)`);
docs/configuration.md and the CDK stack's environment are built from them, so there is one list.
Nothing here runs at import time: callers build `Settings.from_env()` when they need it. Nothing here
imports from the rest of the package either: the CDK app and the CLI import this module widely.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DEFAULT_MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
DEFAULT_EMBEDDING_MODEL_ID = "amazon.titan-embed-image-v1"
EMBEDDING_DIMENSIONS = (256, 384, 1024)  # what Titan Multimodal Embeddings G1 can return


# botocore's standard and adaptive retry modes wait at most 2**retry seconds, capped at 20, between
# attempts (botocore.retries.standard.ExponentialBackoff).
BOTOCORE_MAX_BACKOFF_S = 20.0
# In-region S3 and DynamoDB calls take milliseconds; this covers a few throttled retries of the eight
# or so an image makes. A storage call that hangs longer is cut by its own timeout and SQS retries it.
STORAGE_ALLOWANCE_S = 10.0


def knob(default: Any, doc: str) -> Any:
    """A setting with its default and its one-line meaning: docs/configuration.md is generated from
    these (infra/configdocs.py), so the documentation cannot drift from the code."""
    return field(default=default, metadata={"doc": doc})


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    # Where things live
    results_table: str = field(
        metadata={"doc": "DynamoDB table for the records (the stack sets it; not a knob)"}
    )
    input_prefix: str = knob(
        "images/",
        "Key prefix the pipeline watches; upload images under it (ends in '/')",
    )
    output_prefix: str = knob(
        "results/",
        "Key prefix the results are written under (ends in '/'; must not overlap input_prefix)",
    )
    # Which analyses run
    enable_location: bool = knob(True, "Ask Claude on Bedrock where the photo was taken")
    enable_gps: bool = knob(True, "Read GPS coordinates from EXIF and reverse-geocode them offline")
    enable_labels: bool = knob(True, "Detect labels with Rekognition DetectLabels")
    enable_text: bool = knob(True, "Detect text with Rekognition DetectText")
    enable_moderation: bool = knob(True, "Detect unsafe content with Rekognition DetectModerationLabels")
    skip_location_if_flagged: bool = knob(False, "Skip the Bedrock call for images moderation flagged")
    simulated_ai: bool = field(
        default=False,
        metadata={
            "doc": "Bedrock and Rekognition are imgpipe's simulated AI services: every result says so "
            "(set by `imgpipe local --simulated-ai`; the stack sets false; not a knob)"
        },
    )
    # Bedrock (location)
    bedrock_model_id: str = knob(
        DEFAULT_MODEL_ID,
        "Bedrock model id or inference profile id for location (IAM allows this model only)",
    )
    bedrock_max_tokens: int = knob(400, "Maximum output tokens per Bedrock call")
    bedrock_temperature: float = knob(
        0.0,
        "Sampling temperature for the Bedrock call (0 = most deterministic)",
    )
    bedrock_max_edge: int = knob(1024, "Long edge in pixels of the rendition sent to Bedrock")
    # Rekognition thresholds and rendition
    labels_max: int = knob(10, "Most labels kept per image")
    labels_min_confidence: float = knob(75.0, "Lowest confidence (%) for a label to be kept")
    text_min_confidence: float = knob(80.0, "Lowest confidence (%) for detected text to be kept")
    moderation_min_confidence: float = knob(
        60.0,
        "Lowest confidence (%) for a moderation label (flags the image)",
    )
    rekognition_max_edge: int = knob(2048, "Long edge in pixels of the rendition sent to Rekognition")
    # Faces (Rekognition DetectFaces on the Rekognition rendition; detection stores no biometric data)
    enable_faces: bool = knob(
        True, "Detect faces with Rekognition DetectFaces: box, age range, emotions, smile, eyes, glasses"
    )
    faces_min_confidence: float = knob(90.0, "Lowest confidence (%) for a detected face to be kept")
    faces_emotion_min_confidence: float = knob(
        50.0, "Lowest confidence (%) for an emotion to be kept on a face"
    )
    # People (face recognition): stores biometric data, so it is off unless switched on
    enable_people: bool = knob(
        False,
        "Index faces into the stack's Rekognition collection so people can be named and found "
        "(stores face feature vectors: biometric data, which may need consent)",
    )
    people_collection: str = field(
        default="",
        metadata={"doc": "Rekognition collection of the people analysis (the stack sets it; not a knob)"},
    )
    # Text understanding (Amazon Comprehend on the text Rekognition read)
    enable_comprehension: bool = knob(
        True, "Find the detected text's language, entities, key phrases and PII with Amazon Comprehend"
    )
    comprehension_min_chars: int = knob(
        20, "Text with fewer letters and digits makes no Comprehend call (its language needs 20 characters)"
    )
    comprehension_min_score: float = knob(0.8, "Lowest Comprehend score (0-1) for an entity, phrase or PII")
    # Search (a multimodal embedding of each image, stored in the stack's S3 Vectors index)
    enable_embeddings: bool = knob(
        True, "Embed each image with a multimodal model on Bedrock and store it for `imgpipe search`"
    )
    embedding_model_id: str = knob(
        DEFAULT_EMBEDDING_MODEL_ID,
        "Bedrock model id of the multimodal embedding model (IAM allows this model only)",
    )
    embedding_dimension: int = knob(
        1024, "Length of each embedding: 256, 384 or 1024 (the vector index is created with it)"
    )
    vector_bucket: str = field(
        default="", metadata={"doc": "S3 Vectors bucket of the embeddings (the stack sets it; not a knob)"}
    )
    vector_index: str = field(
        default="", metadata={"doc": "S3 Vectors index of the embeddings (the stack sets it; not a knob)"}
    )
    # Input limits
    max_image_bytes: int = knob(
        50 * 1024 * 1024,
        "Objects larger than this are rejected without being downloaded",
    )
    max_image_pixels: int = knob(
        100_000_000,
        "Images with more pixels are rejected (decompression-bomb guard)",
    )
    min_image_edge: int = knob(
        16,
        "Images whose shorter side is below this are refused (too_small); smaller-than-80 px images "
        "above it are enlarged for Rekognition (at most 5x at 16)",
    )
    # Client behaviour
    max_attempts: int = knob(3, "Attempts per AWS call, including the first (retries use backoff)")
    connect_timeout_s: float = knob(3.0, "Connect timeout in seconds for AWS calls")
    bedrock_read_timeout_s: float = knob(30.0, "Read timeout in seconds for a Bedrock call")
    rekognition_read_timeout_s: float = knob(10.0, "Read timeout in seconds for a Rekognition call")
    comprehend_read_timeout_s: float = knob(5.0, "Read timeout in seconds for a Comprehend call")
    embedding_read_timeout_s: float = knob(10.0, "Read timeout in seconds for an embedding call")
    retry_delay_s: int = knob(
        10,
        "Seconds before a transiently failed image is retried; doubles with each receive (at most 15 min)",
    )
    claim_timeout_s: int = knob(
        300,
        "Seconds a claim on an image lasts before another invocation may take over (the stack sets "
        "timeout_s + 60; not a knob)",
    )
    content_cache_days: int = knob(
        90,
        "Days an analysis is reused for an identical upload (then expires by TTL)",
    )
    # Prices used for the cost estimate (USD); keep them current in configuration, not in code
    price_rekognition_image_usd: float = knob(
        0.001,
        "USD per Rekognition image API call, for the estimated-cost metric",
    )
    price_bedrock_input_mtok_usd: float = knob(
        3.0,
        "USD per million Bedrock input tokens, for the estimated-cost metric",
    )
    price_bedrock_output_mtok_usd: float = knob(
        15.0,
        "USD per million Bedrock output tokens, for the estimated-cost metric",
    )
    price_embedding_image_usd: float = knob(
        0.00006,
        "USD per image embedded (Titan Multimodal Embeddings G1), for the estimated-cost metric",
    )
    price_comprehend_unit_usd: float = knob(
        0.0001,
        "USD per Comprehend unit (100 characters, at least 3 per request), for the estimated-cost metric",
    )

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse `environ` (default: os.environ). Unknown variables are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = env_name(spec.name)
            if name in env:
                values[spec.name] = _parse(name, env[name], spec.type)
        if "results_table" not in values:
            raise SettingsError(f"{env_name('results_table')} is required (the DynamoDB results table name)")
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (used by the stack and the local runner)."""
        return {env_name(k): _render(v) for k, v in asdict(self).items()}

    @property
    def worst_case_image_s(self) -> float:
        """The longest one image may take: every AI call times out on every attempt, with botocore's
        back-off between attempts, plus STORAGE_ALLOWANCE_S for the S3 and DynamoDB calls.

        The analyses (the embedding among them) run concurrently, so the slowest one counts; with
        SKIP_LOCATION_IF_FLAGGED the Bedrock call waits for moderation, so those two add up. The
        function timeout must cover it (the synth checks), and a batch starts another image only
        while this much time remains.
        """
        bedrock = _worst_call_s(self, self.bedrock_read_timeout_s) if self.enable_location else 0.0
        rekognition = (
            _worst_call_s(self, self.rekognition_read_timeout_s)
            if self.enable_labels or self.enable_text or self.enable_moderation or self.enable_faces
            else 0.0
        )
        if self.enable_comprehension and self.enable_text:
            # Comprehend reads the detected text: after it, the language, then three calls at once.
            rekognition += 2 * _worst_call_s(self, self.comprehend_read_timeout_s)
        embedding = _worst_call_s(self, self.embedding_read_timeout_s) if self.enable_embeddings else 0.0
        if self.enable_location and self.skip_location_if_flagged and self.enable_moderation:
            ai = max(rekognition + bedrock, embedding)
        else:
            ai = max(bedrock, rekognition, embedding)
        if self.enable_people:  # then IndexFaces, and the faces of an earlier analysis leave
            ai += 2 * _worst_call_s(self, self.rekognition_read_timeout_s)
        return ai + STORAGE_ALLOWANCE_S


def _worst_call_s(settings: Settings, read_timeout_s: float) -> float:
    attempts = settings.max_attempts
    backoff = sum(min(BOTOCORE_MAX_BACKOFF_S, 2.0**retry) for retry in range(attempts - 1))
    return attempts * (settings.connect_timeout_s + read_timeout_s) + backoff


def env_name(field_name: str) -> str:
    return field_name.upper()


def defaults() -> dict[str, Any]:
    """Every setting's default (results_table has none)."""
    return {f.name: f.default for f in fields(Settings) if f.name != "results_table"}


def _parse(name: str, raw: str, type_name: Any) -> Any:
    text = raw.strip()
    try:
        if type_name in ("bool", bool):
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if type_name in ("int", int):
            return int(text)
        if type_name in ("float", float):
            return float(text)
        return text
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from exc


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _validate(s: Settings) -> None:
    for name in ("input_prefix", "output_prefix"):
        prefix = getattr(s, name)
        if not prefix.endswith("/") or prefix.startswith("/") or prefix == "/":
            raise SettingsError(f"{env_name(name)}={prefix!r} must be a non-empty key prefix ending in '/'")
    # Results written inside the input prefix would trigger the pipeline again (S3 has no loop guard).
    if s.output_prefix.startswith(s.input_prefix) or s.input_prefix.startswith(s.output_prefix):
        raise SettingsError(
            f"OUTPUT_PREFIX={s.output_prefix!r} and INPUT_PREFIX={s.input_prefix!r} "
            "must not contain each other"
        )
    checks: list[tuple[str, bool, str]] = [
        ("labels_max", 1 <= s.labels_max <= 50, "between 1 and 50"),
        ("comprehension_min_chars", s.comprehension_min_chars >= 1, "at least 1"),
        ("comprehension_min_score", 0.0 <= s.comprehension_min_score <= 1.0, "between 0 and 1"),
        (
            "bedrock_max_edge",
            200 <= s.bedrock_max_edge <= 1568,
            "between 200 and 1568 px (Claude's useful range)",
        ),
        ("rekognition_max_edge", 80 <= s.rekognition_max_edge <= 4096, "between 80 and 4096 px"),
        # The Bedrock rendition is cut from the Rekognition one, after a single decode.
        ("bedrock_max_edge", s.bedrock_max_edge <= s.rekognition_max_edge, "at most REKOGNITION_MAX_EDGE"),
        ("bedrock_temperature", 0.0 <= s.bedrock_temperature <= 1.0, "between 0 and 1"),
        ("bedrock_max_tokens", 64 <= s.bedrock_max_tokens <= 4096, "between 64 and 4096"),
        # Smaller images are enlarged for Rekognition (80 px a side); 16 px keeps that to at most 5x.
        ("min_image_edge", s.min_image_edge >= 1, "at least 1 px"),
        ("max_image_pixels", s.max_image_pixels > 0, "positive"),
        ("max_image_bytes", s.max_image_bytes > 0, "positive"),
        ("max_attempts", 1 <= s.max_attempts <= 10, "between 1 and 10"),
        ("claim_timeout_s", s.claim_timeout_s >= 30, "at least 30 seconds"),
        ("retry_delay_s", 1 <= s.retry_delay_s <= 900, "between 1 and 900 seconds"),
    ]
    for key in (
        "labels_min_confidence",
        "text_min_confidence",
        "moderation_min_confidence",
        "faces_min_confidence",
        "faces_emotion_min_confidence",
    ):
        checks.append((key, 0.0 <= getattr(s, key) <= 100.0, "between 0 and 100"))
    for key, ok, expectation in checks:
        if not ok:
            raise SettingsError(f"{env_name(key)}={getattr(s, key)!r} must be {expectation}")
    if not s.results_table:
        raise SettingsError("RESULTS_TABLE must not be empty")
    if s.enable_people and not s.people_collection:
        raise SettingsError("ENABLE_PEOPLE needs PEOPLE_COLLECTION (the stack's Rekognition collection)")
    if s.embedding_dimension not in EMBEDDING_DIMENSIONS:
        raise SettingsError(
            f"EMBEDDING_DIMENSION={s.embedding_dimension!r} must be one of "
            + ", ".join(map(str, EMBEDDING_DIMENSIONS))
        )
    if s.enable_embeddings and not (s.vector_bucket and s.vector_index):
        raise SettingsError(
            "ENABLE_EMBEDDINGS needs VECTOR_BUCKET and VECTOR_INDEX (the stack's S3 Vectors index)"
        )
    if not s.bedrock_model_id:
        raise SettingsError("BEDROCK_MODEL_ID must not be empty")
