"""Configuration: environment variables parsed once into one typed, validated object.

Every variable, its default and its meaning lives in `FIELDS` below; the README's configuration
table and the CDK stack's environment are built from the same names, so there is one list.
Nothing here runs at import time: callers build `Settings.from_env()` when they need it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

SCHEMA_VERSION = 1  # version of the result document and table records (bump on breaking change)

DEFAULT_MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


# botocore's standard and adaptive retry modes wait at most 2**retry seconds, capped at 20, between
# attempts (botocore.retries.standard.ExponentialBackoff).
BOTOCORE_MAX_BACKOFF_S = 20.0
# In-region S3 and DynamoDB calls take milliseconds; this covers a few throttled retries of the eight
# or so an image makes. A storage call that hangs longer is cut by its own timeout and SQS retries it.
STORAGE_ALLOWANCE_S = 10.0


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    # Where things live
    results_table: str
    input_prefix: str = "images/"
    output_prefix: str = "results/"
    # Which analyses run
    enable_location: bool = True
    enable_gps: bool = True
    enable_labels: bool = True
    enable_text: bool = True
    enable_moderation: bool = True
    skip_location_if_flagged: bool = False
    # Bedrock (location)
    bedrock_model_id: str = DEFAULT_MODEL_ID
    bedrock_max_tokens: int = 400
    bedrock_temperature: float = 0.0
    bedrock_max_edge: int = 1024
    # Rekognition thresholds and rendition
    labels_max: int = 10
    labels_min_confidence: float = 75.0
    text_min_confidence: float = 80.0
    moderation_min_confidence: float = 60.0
    rekognition_max_edge: int = 2048
    # Input limits
    max_image_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 100_000_000
    min_image_edge: int = 16  # shorter side below this: refused; above: enlarged for Rekognition
    # Client behaviour
    max_attempts: int = 3
    connect_timeout_s: float = 3.0
    bedrock_read_timeout_s: float = 30.0
    rekognition_read_timeout_s: float = 10.0
    retry_delay_s: int = 10
    claim_timeout_s: int = 300
    content_cache_days: int = 90
    # Prices used for the cost estimate (USD); keep them current in configuration, not in code
    price_rekognition_image_usd: float = 0.001
    price_bedrock_input_mtok_usd: float = 3.0
    price_bedrock_output_mtok_usd: float = 15.0

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse `environ` (default: os.environ). Unknown variables are ignored."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = env_name(field.name)
            if name in env:
                values[field.name] = _parse(name, env[name], field.type)
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

        The analyses run concurrently, so the slowest one counts; with SKIP_LOCATION_IF_FLAGGED the
        Bedrock call waits for moderation, so those two add up. The function timeout must cover it
        (the synth checks), and a batch starts another image only while this much time remains.
        """
        bedrock = _worst_call_s(self, self.bedrock_read_timeout_s) if self.enable_location else 0.0
        rekognition = (
            _worst_call_s(self, self.rekognition_read_timeout_s)
            if self.enable_labels or self.enable_text or self.enable_moderation
            else 0.0
        )
        if self.enable_location and self.skip_location_if_flagged and self.enable_moderation:
            ai = rekognition + bedrock
        else:
            ai = max(bedrock, rekognition)
        return ai + STORAGE_ALLOWANCE_S

    @property
    def analysis_fingerprint(self) -> str:
        """Hash of everything that changes an analysis' outcome.

        Results cached by content are reused only under the same fingerprint, and a record made
        under another fingerprint is stale (a model or threshold change), which backfill can find.
        """
        relevant = {
            k: v
            for k, v in asdict(self).items()
            if (
                k.startswith(("enable_", "bedrock_", "labels_", "text_", "moderation_", "rekognition_"))
                or k == "skip_location_if_flagged"
            )
            and not k.endswith("_timeout_s")  # how long a client waits changes no answer
        }
        relevant["schema_version"] = SCHEMA_VERSION
        digest = hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()
        return digest[:16]


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
    for key in ("labels_min_confidence", "text_min_confidence", "moderation_min_confidence"):
        checks.append((key, 0.0 <= getattr(s, key) <= 100.0, "between 0 and 100"))
    for key, ok, expectation in checks:
        if not ok:
            raise SettingsError(f"{env_name(key)}={getattr(s, key)!r} must be {expectation}")
    if not s.results_table:
        raise SettingsError("RESULTS_TABLE must not be empty")
    if not s.bedrock_model_id:
        raise SettingsError("BEDROCK_MODEL_ID must not be empty")
