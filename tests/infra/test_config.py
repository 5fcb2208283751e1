"""cdk.json's knobs: the same names and defaults as the Lambda's settings, documented, validated."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import asdict, fields
from typing import Any

import pytest
from image_analysis.settings import DEFAULT_MODEL_ID, Settings, defaults

from infra import configdocs, wheelhouse
from infra.config import (
    DERIVED_SETTINGS,
    KNOBS,
    SETTINGS_KNOBS,
    STACK_KNOBS,
    ConfigError,
    StackConfig,
    from_context,
)
from tests.infra.templates import cdk_json_context
from tests.support import PROJECT_ROOT


def knob_values() -> dict[str, Any]:
    context = cdk_json_context()
    return {name: context[name] for name in KNOBS}


def test_settings_knobs_are_the_settings_fields_with_their_defaults() -> None:
    assert set(SETTINGS_KNOBS) == set(defaults()) - set(DERIVED_SETTINGS)
    values = knob_values()
    for name in SETTINGS_KNOBS:
        default = defaults()[name]
        assert values[name] == default, name
        assert type(values[name]) is type(default), f"{name}: {values[name]!r} vs {default!r}"


def test_stack_knobs_in_cdk_json_are_the_config_defaults() -> None:
    values = knob_values()
    assert {name: values[name] for name in STACK_KNOBS} == asdict(StackConfig())


def test_cdk_json_has_no_stray_knobs_and_parses_to_the_defaults() -> None:
    config = from_context(cdk_json_context())
    assert config.stack == StackConfig()
    settings = config.lambda_settings(results_table="table", vector_bucket="vectors", vector_index="index")
    assert settings.bedrock_model_id == DEFAULT_MODEL_ID
    assert (settings.enable_embeddings, settings.vector_bucket, settings.vector_index) == (
        True,
        "vectors",
        "index",
    )
    assert settings.claim_timeout_s == StackConfig().timeout_s + 60


def test_every_knob_is_documented_with_a_meaning() -> None:
    documented = {
        spec.name: spec.metadata.get("doc", "") for spec in (*fields(Settings), *fields(StackConfig))
    }
    assert set(KNOBS) <= set(documented)
    assert all(len(doc) > 20 for doc in documented.values()), documented


def test_the_configuration_page_is_generated_from_the_knobs() -> None:
    """docs/configuration.md is the one table of knobs: regenerate it with `python -m infra.configdocs`."""
    assert configdocs.PAGE.read_text() == configdocs.page()
    for name, value in knob_values().items():
        assert f"| `{name}` |" in configdocs.page() and f"`{json.dumps(value)}`" in configdocs.page(), name


def test_cdk_json_holds_values_only() -> None:
    assert "imgpipe:docs" not in cdk_json_context()


def test_cli_context_strings_are_parsed() -> None:
    """`cdk deploy -c name=value` passes every value as a string."""
    config = from_context(
        {
            "memory_mb": "4096",
            "enable_location": "false",
            "labels_min_confidence": "90",
            "alarm_email": "a@b.io",
            "daily_cost_alarm_usd": "2.5",
        }
    )
    assert config.stack.memory_mb == 4096
    assert config.stack.alarm_email == "a@b.io"
    assert config.stack.daily_cost_alarm_usd == 2.5
    assert config.settings.enable_location is False
    assert config.settings.labels_min_confidence == 90.0


def test_cdk_internal_context_keys_are_ignored() -> None:
    from_context({"@aws-cdk/core:checkSecretUsage": True, "aws:cdk:bundling-stacks": [], "imgpipe:docs": {}})


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"memroy_mb": 1024}, "unknown context knob(s) memroy_mb"),
        ({"claim_timeout_s": 600}, "claim_timeout_s cannot be set"),
        ({"results_table": "t"}, "results_table cannot be set"),
        ({"input_prefix": "images/", "output_prefix": "images/results/"}, "must not contain each other"),
        ({"input_prefix": "images"}, "INPUT_PREFIX='images' must be a non-empty key prefix"),
        ({"labels_min_confidence": 101}, "LABELS_MIN_CONFIDENCE"),
        ({"bedrock_model_id": "arn:aws:bedrock:us-east-1:1:inference-profile/x"}, "not an ARN"),
        ({"memory_mb": 64}, "memory_mb=64 must be between 128 and 10240"),
        ({"memory_mb": "lots"}, "memory_mb='lots' must be a whole number"),
        ({"timeout_s": 901}, "timeout_s=901"),
        ({"timeout_s": 45}, "timeout_s=45 is shorter than the worst case of one image"),
        ({"max_concurrency": 1}, "max_concurrency=1"),
        ({"batch_size": 11}, "batch_size=11"),
        ({"alarm_email": "ops"}, "alarm_email='ops' must be an email address"),
        ({"failure_rate_alarm_percent": 0}, "failure_rate_alarm_percent=0 must be between 1 and 99"),
        ({"failure_rate_alarm_percent": "ten"}, "failure_rate_alarm_percent='ten' must be a whole number"),
        ({"daily_cost_alarm_usd": 0}, "daily_cost_alarm_usd=0.0 must be a number of USD above 0"),
        ({"daily_cost_alarm_usd": "lots"}, "daily_cost_alarm_usd='lots' must be a number"),
        ({"daily_cost_alarm_usd": "inf"}, "daily_cost_alarm_usd='inf' must be a number"),
        ({"removal_policy": "delete"}, "removal_policy='delete'"),
        ({"log_retention_days": 10}, "log_retention_days=10"),
    ],
)
def test_invalid_knobs_fail_the_synth_with_the_knob_named(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_context(context)
    assert message in str(raised.value)


def worst_case_s(context: dict[str, Any]) -> float:
    settings = from_context({**context, "timeout_s": 900}).settings
    return settings.worst_case_image_s


def test_timeout_must_cover_the_worst_case_of_one_image() -> None:
    """Every AI call timing out on every attempt, plus storage, must fit in the function timeout."""
    worst = worst_case_s({})  # defaults: 3 x (3 s connect + 30 s read) + 1 s + 2 s back-off + 10 s storage
    from_context({"timeout_s": math.ceil(worst)})
    with pytest.raises(ConfigError) as raised:
        from_context({"timeout_s": math.ceil(worst) - 1})
    message = str(raised.value)
    assert f"timeout_s={math.ceil(worst) - 1} " in message and f"{worst:g} s" in message
    assert f"raise timeout_s to at least {math.ceil(worst)}" in message
    for knob in ("max_attempts", "connect_timeout_s", "bedrock_read_timeout_s", "rekognition_read_timeout_s"):
        assert knob in message


@pytest.mark.parametrize(
    ("context", "fits"),
    [
        ({"timeout_s": 120}, True),
        # Bedrock waits for moderation: the two worst cases add up (154 s)
        ({"timeout_s": 120, "skip_location_if_flagged": True}, False),
        ({"timeout_s": 160, "skip_location_if_flagged": True, "enable_comprehension": False}, True),
        # and after Comprehend, which the gate waits for too (2 x 27 s more)
        ({"timeout_s": 208, "skip_location_if_flagged": True}, True),
        ({"timeout_s": 207, "skip_location_if_flagged": True}, False),
        ({"timeout_s": 45, "max_attempts": 1}, True),  # one attempt: 3 + 30 + 10 s
        ({"timeout_s": 120, "bedrock_read_timeout_s": 40}, False),
        # Rekognition only: 3 x (3 + 10) + 3 + 10 s
        ({"timeout_s": 55, "enable_location": False, "enable_comprehension": False}, True),
        ({"timeout_s": 50, "enable_location": False, "enable_comprehension": False}, False),
        # then Comprehend on the text: the language, then three calls at once, 2 x (3 x (3 + 5) + 3) s
        ({"timeout_s": 106, "enable_location": False}, True),
        ({"timeout_s": 105, "enable_location": False}, False),
    ],
)
def test_timeout_check_follows_the_settings_that_make_the_worst_case(
    context: dict[str, Any], fits: bool
) -> None:
    assert (worst_case_s(context) <= context["timeout_s"]) is fits
    if fits:
        from_context(context)
    else:
        with pytest.raises(ConfigError, match=r"is shorter than the worst case of one image"):
            from_context(context)


@pytest.mark.parametrize("module", ["infra.outputs", "infra.config", "infra.wheelhouse", "infra.regions"])
def test_modules_the_cli_and_makefile_use_do_not_load_the_cdk(module: str) -> None:
    """The CLI imports the output names; starting jsii would cost it seconds."""
    code = f"import sys, {module}; assert not [m for m in sys.modules if m.startswith(('aws_cdk', 'jsii'))]"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT_ROOT)


def test_makefile_fills_the_wheelhouse_bundling_reads() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    marker = re.search(r"^WHEELS := (\S+)/\.downloaded$", makefile, flags=re.MULTILINE)
    assert marker, "Makefile defines WHEELS"
    assert PROJECT_ROOT / marker.group(1) == wheelhouse.WHEELHOUSE
    assert "$(PY) -m infra.wheelhouse" in makefile
    assert re.search(r"^install: .*\$\(WHEELS\)", makefile, flags=re.MULTILINE)
