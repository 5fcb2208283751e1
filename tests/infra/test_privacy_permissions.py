"""The permissions of faces, text understanding and people: granted only while switched on, each
scoped as narrowly as its service allows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from image_analysis.domain import table as t
from image_analysis.domain import telemetry

from infra import outputs
from infra.regions import (
    COMPREHEND_REGIONS,
    REKOGNITION_IMAGE_REGIONS,
    UnsupportedRegionError,
    check_comprehend_region,
)
from tests.infra.templates import Synth, cfn_lint, synth
from tests.infra.test_processing import role_statements


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Faces off (and everything else that reads people or words in an image)."""
    return synth(
        Path(tmp_path_factory.mktemp("cdk.out")), {"enable_faces": False, "enable_comprehension": False}
    )


def function_of(synthesized: Synth) -> dict[str, Any]:
    return dict(synthesized.json["Resources"][synthesized.logical_id("Processing/Function")]["Properties"])


def actions_of(synthesized: Synth, service: str) -> set[str]:
    role = synthesized.logical_id("Processing/Role")
    statements = role_statements(synthesized, role)
    return {a for actions, _, _ in statements for a in actions if a.startswith(f"{service}:")}


def test_detect_faces_is_granted_only_while_faces_are_on(default: Synth, private: Synth) -> None:
    assert "rekognition:DetectFaces" in actions_of(default, "rekognition")
    assert actions_of(private, "rekognition") == {
        "rekognition:DetectLabels", "rekognition:DetectModerationLabels", "rekognition:DetectText"
    }  # fmt: skip


def test_comprehend_is_granted_only_while_text_understanding_is_on(default: Synth, private: Synth) -> None:
    assert actions_of(default, "comprehend") == {
        "comprehend:DetectDominantLanguage", "comprehend:DetectEntities", "comprehend:DetectKeyPhrases",
        "comprehend:DetectPiiEntities",
    }  # fmt: skip
    assert actions_of(private, "comprehend") == set()


def test_the_pii_index_is_sparse_and_projects_the_record(default: Synth) -> None:
    _, table = default.only("AWS::DynamoDB::Table")
    (index,) = [i for i in table["Properties"]["GlobalSecondaryIndexes"] if i["IndexName"] == t.PII.name]
    assert index["KeySchema"] == [
        {"AttributeName": t.PII.partition_key, "KeyType": "HASH"},
        {"AttributeName": t.PII.sort_key, "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}


@pytest.mark.parametrize("region", ["il-central-1", "sa-east-1", "us-west-1"])
def test_text_understanding_needs_a_region_with_comprehend(region: str) -> None:
    with pytest.raises(UnsupportedRegionError, match="enable_comprehension=false"):
        check_comprehend_region(region)
    assert region in REKOGNITION_IMAGE_REGIONS and region not in COMPREHEND_REGIONS


def test_without_a_region_the_template_checks_comprehend_only_while_it_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    on = synth(tmp_path / "on")
    rule = on.json["Rules"]["ComprehendRegion"]["Assertions"][0]["Assert"]["Fn::Contains"]
    assert rule == [list(COMPREHEND_REGIONS), {"Ref": "AWS::Region"}]
    off = synth(tmp_path / "off", {"enable_comprehension": False})
    assert "ComprehendRegion" not in off.json.get("Rules", {})


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(Path(tmp_path_factory.mktemp("cdk.out")), {"enable_people": True})


def test_no_collection_and_no_face_index_permissions_unless_people_is_on(default: Synth) -> None:
    assert default.resources("AWS::Rekognition::Collection") == {}
    assert not {"rekognition:IndexFaces", "rekognition:DeleteFaces"} & actions_of(default, "rekognition")
    env = function_of(default)["Environment"]["Variables"]
    assert env["ENABLE_PEOPLE"] == "false" and env["PEOPLE_COLLECTION"] == ""


def test_with_people_on_the_stack_owns_the_collection_and_the_function_reaches_only_it(people: Synth) -> None:
    collection_id, collection = people.only("AWS::Rekognition::Collection")
    assert collection["Properties"]["CollectionId"] == {
        "Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-people"]]
    }
    assert collection["DeletionPolicy"] == "Retain"  # like the table: removal_policy decides
    role = people.logical_id("Processing/Role")
    scoped = [(a, r) for a, r, _ in role_statements(people, role) if "rekognition:IndexFaces" in a]
    assert scoped == [(("rekognition:DeleteFaces", "rekognition:IndexFaces"), (f"<{collection_id}.Arn>",))]
    assert function_of(people)["Environment"]["Variables"]["PEOPLE_COLLECTION"] == {"Ref": collection_id}
    assert people.json["Outputs"][outputs.PEOPLE_COLLECTION_ID]["Value"] == {"Ref": collection_id}
    # Search and ListFaces are the operator's (the CLI), never the function's
    assert not {
        "rekognition:SearchFaces",
        "rekognition:SearchFacesByImage",
        "rekognition:ListFaces",
    } & actions_of(people, "rekognition")


def test_the_dashboard_counts_pii_faces_and_comprehend_units(default: Synth) -> None:
    _, dashboard = default.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (telemetry.IMAGES_WITH_PII, telemetry.FACES_DETECTED, telemetry.COMPREHEND_UNITS):
        assert f'\\"{metric}\\"' in body or f'"{metric}"' in body, metric
    for analysis in ("faces", "comprehension", "people"):
        assert telemetry.latency_metric(analysis) in body


def test_cfn_lint_passes_the_template_with_people_on(people: Synth) -> None:
    assert cfn_lint(people.json, people.outdir) == []
