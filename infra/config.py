"""Typed stack configuration from CDK context (`cdk.json`, or `cdk deploy -c name=value`).

Two kinds of knob, all flat context keys:

* Lambda settings: exactly the field names of `image_analysis.settings.Settings`, parsed and
  validated by the Lambda's own parser, so a value the function would reject fails the synth.
  RESULTS_TABLE (from the table construct), CLAIM_TIMEOUT_S (function timeout + margin) and
  SIMULATED_AI (always false in a stack) are derived, not knobs.
* Stack knobs (`StackConfig`): what only the infrastructure needs.

A lower_snake_case context key that is neither is rejected, so a typo never silently deploys the
default. This module does not import aws_cdk.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from image_analysis.settings import STORAGE_ALLOWANCE_S, Settings, SettingsError, defaults, env_name, knob

# CLAIM_TIMEOUT_S must outlast one invocation, or a second delivery of the same image could take
# over a claim that is still being worked on; the margin covers clock skew and the final writes.
CLAIM_MARGIN_S: Final = 60
DERIVED_SETTINGS: Final = (
    "claim_timeout_s", "people_collection", "simulated_ai", "vector_bucket", "vector_index",
)  # fmt: skip
SETTINGS_KNOBS: Final = tuple(name for name in defaults() if name not in DERIVED_SETTINGS)

RETAIN, DESTROY = "retain", "destroy"

# CloudWatch Logs accepts only these retention periods (days -> aws_logs.RetentionDays member).
LOG_RETENTION_DAYS: Final = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
    1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
}  # fmt: skip

_PENDING_TABLE = "<set from the table construct>"
_PENDING_COLLECTION = "<set from the collection construct>"
_PENDING_VECTORS = "<set from the vectors construct>"
_KNOB_KEY = re.compile(r"^[a-z][a-z0-9_]*$")  # CDK's own context keys all contain ':' or '@'
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """A context knob is unknown or invalid; the message names the knob."""


@dataclass(frozen=True)
class StackConfig:
    memory_mb: int = knob(2048, "Function memory in MB (CPU scales with it)")
    timeout_s: int = knob(
        300,
        "Function timeout in seconds; the queue's visibility timeout is 6x this, CLAIM_TIMEOUT_S this + 60",
    )
    max_concurrency: int = knob(
        5,
        "Most concurrent function instances the queue may drive (2-1000); caps load on Bedrock/Rekognition",
    )
    batch_size: int = knob(5, "Messages (images) per function invocation (1-10)")
    alarm_email: str = knob("", "Email address subscribed to the alarm topic (empty: no subscription)")
    failure_rate_alarm_percent: int = knob(
        10,
        "Alarm when more than this % of the images finished in 15 minutes failed or were analysed only "
        "in part (1-99; judged from 10 images on)",
    )
    daily_cost_alarm_usd: float = knob(
        10.0,
        "Alarm when the function's estimated Bedrock + Rekognition spend (EstimatedCostUSD) over one "
        "day exceeds this many USD",
    )
    removal_policy: str = knob(
        RETAIN,
        "'retain': cdk destroy keeps buckets, table, logs and key; 'destroy': deletes them, data included",
    )
    log_retention_days: int = knob(30, "Days to keep the function's logs and the bucket's access logs")

    def __post_init__(self) -> None:
        checks = [
            ("memory_mb", 128 <= self.memory_mb <= 10240, "between 128 and 10240 (Lambda's range)"),
            ("timeout_s", 1 <= self.timeout_s <= 900, "between 1 and 900 seconds (Lambda's maximum)"),
            ("max_concurrency", 2 <= self.max_concurrency <= 1000, "between 2 and 1000 (SQS event source)"),
            ("batch_size", 1 <= self.batch_size <= 10, "between 1 and 10"),
            ("alarm_email", not self.alarm_email or bool(_EMAIL.match(self.alarm_email)), "an email address"),
            ("failure_rate_alarm_percent", 1 <= self.failure_rate_alarm_percent <= 99, "between 1 and 99"),
            (
                "daily_cost_alarm_usd",
                math.isfinite(self.daily_cost_alarm_usd) and self.daily_cost_alarm_usd > 0,
                "a number of USD above 0",
            ),
            ("removal_policy", self.removal_policy in (RETAIN, DESTROY), f"{RETAIN!r} or {DESTROY!r}"),
            ("log_retention_days", self.log_retention_days in LOG_RETENTION_DAYS, "a CloudWatch Logs period"),
        ]
        for name, ok, expectation in checks:
            if not ok:
                raise ConfigError(f"context knob {name}={getattr(self, name)!r} must be {expectation}")

    @property
    def destroy(self) -> bool:
        """True when `cdk destroy` should delete data too (buckets emptied, table deleted)."""
        return self.removal_policy == DESTROY


STACK_KNOBS: Final = tuple(f.name for f in fields(StackConfig))
KNOBS: Final = SETTINGS_KNOBS + STACK_KNOBS


@dataclass(frozen=True)
class PipelineConfig:
    stack: StackConfig
    settings: Settings  # results_table is a placeholder here; see lambda_settings()

    def lambda_settings(
        self, results_table: str, people_collection: str = "", vector_bucket: str = "", vector_index: str = ""
    ) -> Settings:
        """The function's settings once the table (and, with people on, the collection; with embeddings
        on, the vector bucket and index) exists."""
        claim_timeout_s = self.stack.timeout_s + CLAIM_MARGIN_S
        return replace(
            self.settings,
            results_table=results_table,
            claim_timeout_s=claim_timeout_s,
            people_collection=people_collection,
            vector_bucket=vector_bucket,
            vector_index=vector_index,
        )


def from_context(context: Mapping[str, Any]) -> PipelineConfig:
    """Parse every knob from `context`; knobs not given take their defaults."""
    derived = sorted(k for k in context if k in (*DERIVED_SETTINGS, "results_table"))
    if derived:
        raise ConfigError(
            f"{', '.join(derived)} cannot be set: derived from timeout_s, the table and the collection "
            "(simulated_ai is for `imgpipe local --simulated-ai` only)"
        )
    unknown = sorted(k for k in context if _KNOB_KEY.match(k) and k not in KNOBS)
    if unknown:
        raise ConfigError(f"unknown context knob(s) {', '.join(unknown)}; known: {', '.join(KNOBS)}")
    given = {k: v for k, v in context.items() if k in KNOBS and v is not None}
    stack = StackConfig(
        **{f.name: _coerce(f.name, given[f.name], f.type) for f in fields(StackConfig) if f.name in given}
    )
    env = {env_name(k): _text(v) for k, v in given.items() if k in SETTINGS_KNOBS}
    env[env_name("results_table")] = _PENDING_TABLE
    env[env_name("people_collection")] = _PENDING_COLLECTION
    env[env_name("vector_bucket")] = env[env_name("vector_index")] = _PENDING_VECTORS
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        raise ConfigError(f"context knob: {exc}") from exc
    _check_together(stack, settings)
    return PipelineConfig(stack=stack, settings=settings)


def _check_together(stack: StackConfig, settings: Settings) -> None:
    """What neither part can check alone."""
    for knob_name in ("bedrock_model_id", "embedding_model_id"):
        if getattr(settings, knob_name).startswith("arn:"):
            # The function's IAM policy is derived from the id (infra/processing.py).
            raise ConfigError(f"context knob {knob_name} must be a model or inference profile id, not an ARN")
    worst = settings.worst_case_image_s
    if worst > stack.timeout_s:
        # A timeout kills the invocation mid-image, with its whole batch (settings.worst_case_image_s).
        also = " or turn off skip_location_if_flagged" if settings.skip_location_if_flagged else ""
        raise ConfigError(
            f"context knob timeout_s={stack.timeout_s} is shorter than the worst case of one image, "
            f"{worst:g} s (every AI call timing out on all max_attempts="
            f"{settings.max_attempts} attempts, with back-off, plus {STORAGE_ALLOWANCE_S:g} s for S3 and "
            f"DynamoDB): raise timeout_s to at least {math.ceil(worst)}, or lower max_attempts, "
            "connect_timeout_s, bedrock_read_timeout_s, rekognition_read_timeout_s, "
            f"comprehend_read_timeout_s or embedding_read_timeout_s{also}"
        )


def _coerce(name: str, value: Any, type_name: Any) -> Any:
    """Context from cdk.json is typed JSON; from `-c name=value` it is always a string."""
    if type_name in ("int", int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise ConfigError(f"context knob {name}={value!r} must be a whole number")
    if type_name in ("float", float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
        raise ConfigError(f"context knob {name}={value!r} must be a number")
    if not isinstance(value, str):
        raise ConfigError(f"context knob {name}={value!r} must be a string")
    return value.strip()


def _text(value: Any) -> str:
    """Render a JSON value the way Settings.from_env expects to read it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
