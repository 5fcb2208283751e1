"""The security gate: cdk-nag AwsSolutions runs on every synth and fails it on any unacknowledged finding.

Every acknowledgment is narrow (one construct, one rule or one finding), says why, and is needed:
without them the synth reports exactly the acknowledged findings and nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

import app as entry
import infra.nag
from tests.infra.templates import NO_BUNDLING, Synth, cdk_json_context

# (construct path below the stack, finding) -> reviewed. A new acknowledgment must be added here.
EXPECTED = {
    (
        "BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role",
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
    ),
    ("Processing/Function", "AwsSolutions-L1"),
    ("Processing/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"),
    ("Processing/RekognitionPolicy", "AwsSolutions-IAM5[Resource::*]"),
    ("Processing/ComprehendPolicy", "AwsSolutions-IAM5[Resource::*]"),
    ("Processing/S3Policy", "AwsSolutions-IAM5[Resource::<Bucket.Arn>/images/*]"),
    ("Processing/S3Policy", "AwsSolutions-IAM5[Resource::<Bucket.Arn>/results/*]"),
    (
        "Processing/BedrockPolicy",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/"
        "anthropic.claude-sonnet-4-5-20250929-v1:0]",
    ),
}


@dataclass(frozen=True)
class Ack:
    path: str
    rule: str
    reason: str


@dataclass
class Unacknowledged:
    acks: list[Ack]
    error: str
    violations: list[tuple[str, str]]  # (rule, resource construct path)


class RecordingValidations:
    """Stands in for aws_cdk.Validations in infra.nag: records acknowledgments, applies none."""

    recorded: list[Ack] = []  # noqa: RUF012 - reset by the fixture

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def of(cls, construct: Any) -> RecordingValidations:
        return cls(construct.node.path)

    def acknowledge(self, *rules: Any) -> None:
        self.recorded += [Ack(self.path, r.id, r.reason) for r in rules]


def violations_in_report(outdir: Path) -> list[tuple[str, str]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    ]


def normalise(rule: str) -> str:
    return re.sub(r"<StorageImages[0-9A-F]{8}\.Arn>", "<Bucket.Arn>", rule)


@pytest.fixture(scope="module")
def unacknowledged(tmp_path_factory: pytest.TempPathFactory) -> Unacknowledged:
    """The same app with every acknowledgment recorded instead of applied."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra.nag, "Validations", RecordingValidations)
        patch.setattr(RecordingValidations, "recorded", [])
        app = App(outdir=str(outdir), context={**cdk_json_context(), **NO_BUNDLING})
        entry.build(app)
        acks = list(RecordingValidations.recorded)
    with pytest.raises(RuntimeError) as raised:
        app.synth()
    return Unacknowledged(acks=acks, error=str(raised.value), violations=violations_in_report(outdir))


def test_the_default_synth_has_no_unacknowledged_findings(default: Synth) -> None:
    """The `default` fixture synthesized (the plugin ran); the report holds no violation."""
    assert violations_in_report(default.outdir) == []
    report = AwsSolutionsChecks().validate_scope(default.stack)
    assert report.success, [v.rule_name for v in report.violations]


def test_without_the_acknowledgments_the_synth_fails(unacknowledged: Unacknowledged) -> None:
    assert unacknowledged.error.startswith("ValidationFailed")
    assert unacknowledged.violations


def test_the_acknowledgments_are_exactly_the_reviewed_ones(unacknowledged: Unacknowledged) -> None:
    prefix = "ImagePipeline/"
    found = {(a.path.removeprefix(prefix), normalise(a.rule)) for a in unacknowledged.acks}
    assert found == EXPECTED
    assert len(unacknowledged.acks) == len(EXPECTED), "no duplicates"


def test_every_acknowledgment_matches_a_finding_on_its_construct(unacknowledged: Unacknowledged) -> None:
    for ack in unacknowledged.acks:
        assert any(
            rule == ack.rule and (path == ack.path or path.startswith(ack.path + "/"))
            for rule, path in unacknowledged.violations
        ), f"stale acknowledgment {ack}"


def test_every_finding_is_acknowledged_on_its_construct(unacknowledged: Unacknowledged) -> None:
    for rule, path in unacknowledged.violations:
        assert any(
            rule == a.rule and (path == a.path or path.startswith(a.path + "/")) for a in unacknowledged.acks
        ), f"{rule} at {path}"


def test_acknowledgments_are_narrow_and_explained(unacknowledged: Unacknowledged) -> None:
    for ack in unacknowledged.acks:
        assert re.fullmatch(r"AwsSolutions-[A-Z]+[0-9]+(\[.+\])?", ack.rule), ack.rule
        if ack.rule.startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert "[" in ack.rule, f"{ack.rule}: acknowledge one finding, not the whole rule"
        assert len(ack.reason) >= 60, f"{ack.rule}: say why"
        assert ack.path != "ImagePipeline", "on a construct, not on the whole stack"


def test_a_new_insecure_resource_fails_the_synth(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), context={**cdk_json_context(), **NO_BUNDLING})
    stack = entry.build(app)
    sqs.Queue(stack, "Unprotected")
    with pytest.raises(RuntimeError, match=r"^ValidationFailed"):
        app.synth()
    rules = {
        rule for rule, path in violations_in_report(tmp_path) if path.startswith("ImagePipeline/Unprotected/")
    }
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules
    assert all(path.startswith("ImagePipeline/Unprotected/") for _, path in violations_in_report(tmp_path))


def test_validations_api_is_the_one_infra_uses() -> None:
    """cdk-nag v3 reads acknowledgments from this metadata key (Validations.of(...).acknowledge)."""
    assert Validations.ACKNOWLEDGED_RULES_METADATA_KEY == "aws:cdk:acknowledged-rules"
