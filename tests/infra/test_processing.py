"""The function: runtime, environment, and exactly the permissions it needs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from image_analysis.domain import telemetry
from image_analysis.settings import DEFAULT_MODEL_ID, Settings, defaults

from infra import wheelhouse
from infra.bundling import HANDLER
from infra.config import StackConfig, from_context
from infra.processing import RUNTIME, bedrock_model_arns
from tests.infra.templates import Synth, as_list, cdk_json_context, every_policy_document, flatten, statements

BASE_MODEL = DEFAULT_MODEL_ID.removeprefix("global.")
Statement = tuple[tuple[str, ...], tuple[str, ...], str]


@pytest.fixture(scope="module")
def ids(default: Synth) -> dict[str, str]:
    paths = {
        "bucket": "Storage/Images",
        "table": "Storage/Results",
        "queue": "Trigger/Queue",
        "function": "Processing/Function",
        "role": "Processing/Role",
        "logs": "Processing/Logs",
    }
    return {name: default.logical_id(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def function(default: Synth, ids: dict[str, str]) -> dict[str, Any]:
    return dict(default.json["Resources"][ids["function"]]["Properties"])


def role_statements(default: Synth, role_id: str) -> set[Statement]:
    found: set[Statement] = set()
    for policy in default.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for s in statements(policy["Properties"]["PolicyDocument"]):
            assert s["Effect"] == "Allow"
            actions = tuple(sorted(as_list(s["Action"])))
            resources = tuple(sorted(flatten(r) for r in as_list(s["Resource"])))
            found.add((actions, resources, json.dumps(s.get("Condition"), sort_keys=True)))
    return found


def test_runtime_architecture_and_handler(function: dict[str, Any], ids: dict[str, str]) -> None:
    assert function["Runtime"] == "python3.13" == f"python{wheelhouse.PYTHON_VERSION}" == RUNTIME.name
    assert function["Architectures"] == ["arm64"]
    assert wheelhouse.PLATFORM_TAG.endswith("aarch64")
    assert function["Handler"] == HANDLER == "image_analysis.handler.lambda_handler"
    assert function["Role"] == {"Fn::GetAtt": [ids["role"], "Arn"]}


def test_memory_timeout_tracing_and_logs(
    default: Synth, function: dict[str, Any], ids: dict[str, str]
) -> None:
    assert function["MemorySize"] == StackConfig().memory_mb
    assert function["Timeout"] == StackConfig().timeout_s
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": ids["logs"]}
    assert (
        default.json["Resources"][ids["logs"]]["Properties"]["RetentionInDays"]
        == StackConfig().log_retention_days
    )


def test_environment_is_every_setting_from_cdk_json(function: dict[str, Any], ids: dict[str, str]) -> None:
    env = function["Environment"]["Variables"]
    expected = Settings(
        results_table="resolved-by-cloudformation", claim_timeout_s=360, vector_bucket="v", vector_index="i"
    ).to_env()
    assert set(env) == set(expected) | {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert env["RESULTS_TABLE"] == {"Ref": ids["table"]}
    assert env["CLAIM_TIMEOUT_S"] == str(StackConfig().timeout_s + 60)
    assert env["INPUT_PREFIX"] == "images/"
    assert env["OUTPUT_PREFIX"] == "results/"
    assert env["BEDROCK_MODEL_ID"] == DEFAULT_MODEL_ID
    assert env["LABELS_MIN_CONFIDENCE"] == str(defaults()["labels_min_confidence"])
    assert env["POWERTOOLS_SERVICE_NAME"] == telemetry.SERVICE_NAME
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == telemetry.METRICS_NAMESPACE
    # What the function will parse is exactly what cdk.json configured.
    parsed = Settings.from_env({**env, "RESULTS_TABLE": "t", "VECTOR_BUCKET": "v"})
    assert parsed == from_context(cdk_json_context()).lambda_settings(
        results_table="t", vector_bucket="v", vector_index="image-embeddings"
    )


def test_role_has_exactly_these_permissions(default: Synth, ids: dict[str, str]) -> None:
    bucket, table, queue, logs = (f"<{ids[name]}.Arn>" for name in ("bucket", "table", "queue", "logs"))
    no_condition = json.dumps(None)
    expected: set[Statement] = {
        (("logs:CreateLogStream", "logs:PutLogEvents"), (logs,), no_condition),
        (("s3:GetObject",), (f"{bucket}/images/*",), no_condition),
        (("s3:ListBucket",), (bucket,), json.dumps({"StringLike": {"s3:prefix": ["images/*"]}})),
        (
            ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"),
            (f"{bucket}/results/*",),
            no_condition,
        ),
        (
            ("bedrock:InvokeModel",),
            (
                f"arn:<AWS::Partition>:bedrock:*::foundation-model/{BASE_MODEL}",
                f"arn:<AWS::Partition>:bedrock:::foundation-model/{BASE_MODEL}",
                f"arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/{DEFAULT_MODEL_ID}",
            ),
            no_condition,
        ),
        (
            tuple(
                f"rekognition:{a}"
                for a in ("DetectFaces", "DetectLabels", "DetectModerationLabels", "DetectText")
            ),
            ("*",),
            no_condition,
        ),
        (
            tuple(
                f"comprehend:{a}"
                for a in ("DetectDominantLanguage", "DetectEntities", "DetectKeyPhrases", "DetectPiiEntities")
            ),
            ("*",),
            no_condition,
        ),
        (
            tuple(
                f"dynamodb:{a}"
                for a in (
                    "BatchWriteItem",
                    "ConditionCheckItem",
                    "DeleteItem",
                    "GetItem",
                    "PutItem",
                    "Query",
                    "UpdateItem",
                )
            ),
            (table,),
            no_condition,
        ),
        (("xray:PutTelemetryRecords", "xray:PutTraceSegments"), ("*",), no_condition),
        # embeddings (on in cdk.json): the model, and the one index (tests/infra/test_vectors.py)
        (
            ("bedrock:InvokeModel",),
            ("arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.titan-embed-image-v1",),
            no_condition,
        ),
        (
            tuple(f"s3vectors:{a}" for a in ("DeleteVectors", "GetVectors", "PutVectors")),
            (f"<{default.logical_id('Vectors/Index')}.IndexArn>",),
            no_condition,
        ),
        (("sqs:SendMessage",), (queue,), no_condition),  # a fresh copy of a deferred record
        (
            tuple(
                f"sqs:{a}"
                for a in (
                    "ChangeMessageVisibility",
                    "DeleteMessage",
                    "GetQueueAttributes",
                    "GetQueueUrl",
                    "ReceiveMessage",
                )
            ),
            (queue,),
            no_condition,
        ),
    }
    assert role_statements(default, ids["role"]) == expected


def test_role_has_no_managed_or_inline_policies(default: Synth, ids: dict[str, str]) -> None:
    role = default.json["Resources"][ids["role"]]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]


def test_no_policy_anywhere_allows_a_wildcard_action(default: Synth) -> None:
    """Deny statements (the TLS-only policies deny `s3:*` / `sqs:*` over plain HTTP) only restrict."""
    for rid, document in every_policy_document(default.json):
        for s in statements(document):
            if s["Effect"] == "Allow":
                assert not [a for a in as_list(s["Action"]) if "*" in a], f"{rid}: {s}"


def test_only_services_without_resource_permissions_get_resource_star(
    default: Synth, ids: dict[str, str]
) -> None:
    star = {actions for actions, resources, _ in role_statements(default, ids["role"]) if "*" in resources}
    assert {a.split(":")[0] for actions in star for a in actions} == {"comprehend", "rekognition", "xray"}


def test_the_function_is_created_after_its_permissions(default: Synth, ids: dict[str, str]) -> None:
    depends_on = set(default.json["Resources"][ids["function"]]["DependsOn"])
    role_policies = {
        rid
        for rid, p in default.resources("AWS::IAM::Policy").items()
        if {"Ref": ids["role"]} in p["Properties"]["Roles"]
    }
    assert role_policies <= depends_on


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            [
                "arn:aws:bedrock:eu-west-1:111:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
                "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
            ],
        ),
        (
            "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
            [
                "arn:aws:bedrock:eu-west-1:111:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0",
                "arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
            ],
        ),
        (
            "apac.amazon.nova-lite-v1:0",
            [
                "arn:aws:bedrock:eu-west-1:111:inference-profile/apac.amazon.nova-lite-v1:0",
                "arn:aws:bedrock:*::foundation-model/amazon.nova-lite-v1:0",
            ],
        ),
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            ["arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"],
        ),
        ("amazon.nova-pro-v1:0", ["arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0"]),
    ],
)
def test_bedrock_permission_covers_the_model_and_only_the_model(model_id: str, expected: list[str]) -> None:
    assert bedrock_model_arns(model_id, partition="aws", region="eu-west-1", account="111") == expected
