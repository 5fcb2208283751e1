"""Embeddings' infrastructure (ENABLE_EMBEDDINGS): the S3 Vectors bucket and index, the function's
environment and exactly its grants on them, the outputs `imgpipe search --stack` reads, the Regions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from image_analysis.domain import vectors as design

import app as entry
from infra import outputs
from infra.processing import VECTOR_ACTIONS
from infra.regions import (
    S3_VECTORS_REGIONS,
    TITAN_MULTIMODAL_REGIONS,
    UnsupportedRegionError,
    check_embedding_region,
    embedding_regions,
)
from tests.infra.templates import NO_BUNDLING, Synth, cdk_json_context, cfn_lint, synth
from tests.infra.test_processing import role_statements
from tests.infra.test_regions import rule_allows

EMBEDDINGS = {"enable_embeddings": True}


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory: pytest.TempPathFactory, environment: pytest.MonkeyPatch) -> Synth:
    """The stack with embeddings on, in a Region that has S3 Vectors and Titan Multimodal Embeddings."""
    environment.setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
    environment.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    return synth(tmp_path_factory.mktemp("cdk.out"), EMBEDDINGS)


def props(synthesized: Synth, path: str) -> dict[str, Any]:
    return dict(synthesized.json["Resources"][synthesized.logical_id(path)]["Properties"])


def test_the_vector_bucket_is_encrypted_like_the_image_bucket_and_retained(embeddings: Synth) -> None:
    bucket_id, bucket = embeddings.only("AWS::S3Vectors::VectorBucket")
    assert bucket_id == embeddings.logical_id("Vectors/Bucket")
    assert bucket["Properties"]["EncryptionConfiguration"] == {"SseType": "AES256"}
    image_bucket = props(embeddings, "Storage/Images")
    [rule] = image_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"  # SSE-S3 both
    assert "VectorBucketName" not in bucket["Properties"], "generated: a retained bucket blocks no redeploy"
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_the_index_has_the_settings_dimension_cosine_float32_and_filters_only_what_search_uses(
    embeddings: Synth,
) -> None:
    index_id, index = embeddings.only("AWS::S3Vectors::Index")
    assert index_id == embeddings.logical_id("Vectors/Index")
    assert index["Properties"] == {
        "VectorBucketArn": {"Fn::GetAtt": [embeddings.logical_id("Vectors/Bucket"), "VectorBucketArn"]},
        "IndexName": "image-embeddings",
        "Dimension": 1024,  # cdk.json's embedding_dimension
        "DistanceMetric": "cosine",
        "DataType": "float32",
        "MetadataConfiguration": {"NonFilterableMetadataKeys": ["version_tag"]},
        "Tags": [{"Key": "project", "Value": "imgpipe"}],
    }
    filterable = {design.STATUS, design.FLAGGED, design.LABELS}
    assert filterable.isdisjoint(index["Properties"]["MetadataConfiguration"]["NonFilterableMetadataKeys"])
    assert index["DeletionPolicy"] == "Retain"


def test_the_function_is_told_the_bucket_and_index_it_may_use(embeddings: Synth) -> None:
    env = props(embeddings, "Processing/Function")["Environment"]["Variables"]
    bucket_arn = {"Fn::GetAtt": [embeddings.logical_id("Vectors/Bucket"), "VectorBucketArn"]}
    # The bucket's name is the last part of its ARN (arn:aws:s3vectors:region:account:bucket/NAME).
    assert env["VECTOR_BUCKET"] == {"Fn::Select": [1, {"Fn::Split": ["/", bucket_arn]}]}
    assert env["VECTOR_INDEX"] == design.INDEX_NAME
    assert env["ENABLE_EMBEDDINGS"] == "true"
    assert env["EMBEDDING_DIMENSION"] == "1024"


def test_grants_are_the_three_vector_actions_on_the_one_index_and_the_embedding_model(
    embeddings: Synth,
) -> None:
    found = role_statements(embeddings, embeddings.logical_id("Processing/Role"))
    index_arn = f"<{embeddings.logical_id('Vectors/Index')}.IndexArn>"
    assert (tuple(sorted(VECTOR_ACTIONS)), (index_arn,), "null") in found
    assert VECTOR_ACTIONS == (
        "s3vectors:PutVectors", "s3vectors:GetVectors", "s3vectors:DeleteVectors",
    )  # fmt: skip
    model = "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-image-v1"  # this Region only
    assert (("bedrock:InvokeModel",), (model,), "null") in found
    vector_statements = [s for s in found if any(a.startswith("s3vectors:") for a in s[0])]
    assert vector_statements == [(tuple(sorted(VECTOR_ACTIONS)), (index_arn,), "null")], "nothing more"
    invoke = {s[1] for s in found if "bedrock:InvokeModel" in s[0]}
    assert (model,) in invoke and len(invoke) == 2, "Claude's statement and the embedding model's, no more"


def test_outputs_name_the_vector_bucket_and_index(embeddings: Synth) -> None:
    found = embeddings.json["Outputs"]
    bucket_arn = {"Fn::GetAtt": [embeddings.logical_id("Vectors/Bucket"), "VectorBucketArn"]}
    assert found[outputs.VECTOR_BUCKET_NAME]["Value"] == {"Fn::Select": [1, {"Fn::Split": ["/", bucket_arn]}]}
    assert found[outputs.VECTOR_INDEX_NAME]["Value"] == design.INDEX_NAME
    assert found[outputs.VECTOR_INDEX_NAME]["Description"] == outputs.DESCRIPTIONS[outputs.VECTOR_INDEX_NAME]
    assert found[outputs.EMBEDDING_MODEL_ID]["Value"] == "amazon.titan-embed-image-v1"


def test_with_embeddings_off_there_is_no_vector_resource_grant_or_output(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    default = synth(tmp_path_factory.mktemp("cdk.out"), {"enable_embeddings": False})
    kinds = {r["Type"] for r in default.json["Resources"].values()}
    assert not {k for k in kinds if k.startswith("AWS::S3Vectors::")}
    assert "s3vectors:" not in str(default.json)
    granted = role_statements(default, default.logical_id("Processing/Role"))
    assert not [s for s in granted if any("titan-embed" in r for r in s[1])], "no embedding model grant"
    assert not {outputs.VECTOR_BUCKET_NAME, outputs.VECTOR_INDEX_NAME, outputs.EMBEDDING_MODEL_ID} & set(
        default.json["Outputs"]
    )
    env = props(default, "Processing/Function")["Environment"]["Variables"]
    assert env["VECTOR_BUCKET"] == env["VECTOR_INDEX"] == ""


def test_the_embeddings_template_passes_cfn_lint(embeddings: Synth) -> None:
    # cfn-lint 1.58.0 knows AWS::S3Vectors::VectorBucket and ::Index (their schemas and properties).
    assert cfn_lint(embeddings.json, embeddings.outdir) == []


def test_destroy_mode_deletes_the_vectors_and_the_dimension_follows_the_knob(
    tmp_path_factory: pytest.TempPathFactory, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv("CDK_DEFAULT_REGION", "us-east-1")
    variant = synth(
        tmp_path_factory.mktemp("cdk.out"),
        {**EMBEDDINGS, "removal_policy": "destroy", "embedding_dimension": 256},
    )
    _, index = variant.only("AWS::S3Vectors::Index")
    _, bucket = variant.only("AWS::S3Vectors::VectorBucket")
    assert index["Properties"]["Dimension"] == 256
    assert index["DeletionPolicy"] == bucket["DeletionPolicy"] == "Delete"


# --- Regions ---------------------------------------------------------------------------------------


def test_embedding_regions_need_s3_vectors_rekognition_and_titan() -> None:
    regions = embedding_regions("amazon.titan-embed-image-v1")
    assert set(regions) == set(S3_VECTORS_REGIONS) & set(TITAN_MULTIMODAL_REGIONS)
    assert "il-central-1" not in S3_VECTORS_REGIONS  # Rekognition, but no S3 Vectors
    assert set(regions) == {"us-east-1", "us-west-2", "ap-south-1", "ap-southeast-2", "eu-west-1",
                            "eu-west-2", "sa-east-1"}  # fmt: skip


@pytest.mark.parametrize(
    ("region", "missing"),
    [("il-central-1", "Amazon S3 Vectors"), ("us-east-2", "the embedding model amazon.titan-embed-image-v1")],
)
def test_a_region_without_s3_vectors_or_the_model_is_refused_with_the_alternatives(
    region: str, missing: str
) -> None:
    with pytest.raises(UnsupportedRegionError) as raised:
        check_embedding_region(region)
    assert f"Region {region!r} does not offer {missing}" in str(raised.value)
    assert "eu-west-1" in str(raised.value) and "enable_embeddings=false" in str(raised.value)


def test_another_embedding_model_is_checked_for_s3_vectors_only() -> None:
    check_embedding_region("us-east-2", "some.other-embedding-model")
    with pytest.raises(UnsupportedRegionError):
        check_embedding_region("il-central-1", "some.other-embedding-model")


def test_synth_refuses_embeddings_in_a_region_without_the_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-2")
    app = App(outdir=str(tmp_path), context={**cdk_json_context(), **NO_BUNDLING, **EMBEDDINGS})
    with pytest.raises(UnsupportedRegionError, match="us-east-2"):
        entry.build(app)


def test_without_a_region_the_template_checks_it_at_deploy(
    tmp_path_factory: pytest.TempPathFactory, environment: pytest.MonkeyPatch
) -> None:
    environment.delenv("CDK_DEFAULT_REGION", raising=False)
    environment.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    agnostic = synth(tmp_path_factory.mktemp("cdk.out"), EMBEDDINGS)
    rule = agnostic.json["Rules"]["EmbeddingsRegion"]
    assert rule_allows(rule, "eu-west-1")
    assert not rule_allows(rule, "us-east-2") and not rule_allows(rule, "il-central-1")
