"""The stack runs only where Rekognition's image APIs are: refused at synth, or checked by CloudFormation
before anything is created when the synth does not know the Region."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App

import app as entry
from infra.regions import REKOGNITION_IMAGE_REGIONS, UnsupportedRegionError, check_region
from tests.infra.templates import NO_BUNDLING, Synth, cdk_json_context, synth
from tests.support import PROJECT_ROOT

# The documented exception: a Rekognition endpoint, but only the face operations (infra/regions.py).
FACES_ONLY = "ca-central-1"


def botocore_rekognition_regions() -> set[str]:
    session = boto3.session.Session()
    return {
        region
        for partition in ("aws", "aws-us-gov", "aws-cn")
        for region in session.get_available_regions("rekognition", partition_name=partition)
    }


def test_allowed_regions_are_rekognition_endpoints_botocore_knows() -> None:
    """A second source: every Region in the list has a Rekognition endpoint (catches typos)."""
    known = botocore_rekognition_regions()
    assert set(REKOGNITION_IMAGE_REGIONS) <= known, set(REKOGNITION_IMAGE_REGIONS) - known
    assert FACES_ONLY in known and FACES_ONLY not in REKOGNITION_IMAGE_REGIONS
    assert len(set(REKOGNITION_IMAGE_REGIONS)) == len(REKOGNITION_IMAGE_REGIONS)


@pytest.mark.parametrize("region", [FACES_ONLY, "eu-north-1", "cn-north-1", "us-gov-east-1"])
def test_a_region_without_the_image_apis_is_refused_with_the_alternatives(region: str) -> None:
    with pytest.raises(UnsupportedRegionError) as raised:
        check_region(region)
    message = str(raised.value)
    assert f"Region {region!r} does not offer" in message
    assert "DetectLabels, DetectText and DetectModerationLabels" in message
    assert all(allowed in message for allowed in REKOGNITION_IMAGE_REGIONS)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "il-central-1", "us-gov-west-1"])
def test_regions_with_the_image_apis_are_accepted(region: str) -> None:
    check_region(region)


def test_synth_refuses_an_unsupported_cdk_default_region(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", FACES_ONLY)
    app = App(outdir=str(tmp_path), context={**cdk_json_context(), **NO_BUNDLING})
    with pytest.raises(UnsupportedRegionError, match=FACES_ONLY):
        entry.build(app)


def test_cdk_synth_exits_with_the_message_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "CDK_DEFAULT_REGION": FACES_ONLY, "CDK_OUTDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"Region '{FACES_ONLY}' does not offer" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.template.json"))


@pytest.fixture(scope="module")
def agnostic(tmp_path_factory: pytest.TempPathFactory, environment: pytest.MonkeyPatch) -> Synth:
    """`cdk synth` without a Region (no profile or AWS_REGION): the template does not know it."""
    environment.delenv("CDK_DEFAULT_REGION", raising=False)
    environment.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    return synth(tmp_path_factory.mktemp("cdk.out"))


def rule_allows(rule: dict[str, Any], region: str) -> bool:
    """CloudFormation's evaluation of the rule's one assertion, Fn::Contains on AWS::Region."""
    [assertion] = rule["Assertions"]
    [(function, (allowed, value))] = assertion["Assert"].items()
    assert function == "Fn::Contains" and value == {"Ref": "AWS::Region"}
    return region in allowed


def test_without_a_region_the_template_refuses_the_deploy_before_creating_anything(agnostic: Synth) -> None:
    rule = agnostic.json["Rules"]["RekognitionRegion"]
    assert "RuleCondition" not in rule, "the rule always applies"
    assert not rule_allows(rule, FACES_ONLY)
    assert all(rule_allows(rule, region) for region in REKOGNITION_IMAGE_REGIONS)
    [assertion] = rule["Assertions"]
    assert all(region in assertion["AssertDescription"] for region in REKOGNITION_IMAGE_REGIONS)
