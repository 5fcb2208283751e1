"""Buckets and table: private, encrypted, TLS-only, recoverable, and keyed as the Lambda expects."""

from __future__ import annotations

from typing import Any

import pytest
from image_analysis.domain import table as design

from infra.storage import NONCURRENT_VERSION_DAYS
from tests.infra.templates import Synth, denies_insecure_transport, statements

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture(scope="module")
def buckets(default: Synth) -> dict[str, dict[str, Any]]:
    return {
        path: default.json["Resources"][default.logical_id(f"Storage/{path}")]
        for path in ("Images", "AccessLogs")
    }


@pytest.mark.parametrize("path", ["Images", "AccessLogs"])
def test_buckets_are_private_and_encrypted(buckets: dict[str, dict[str, Any]], path: str) -> None:
    props = buckets[path]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
    rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert [r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


@pytest.mark.parametrize("path", ["Images", "AccessLogs"])
def test_bucket_policies_refuse_plain_http_and_old_tls(default: Synth, path: str) -> None:
    bucket_id = default.logical_id(f"Storage/{path}")
    [policy] = [
        p
        for p in default.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    document = policy["Properties"]["PolicyDocument"]
    assert denies_insecure_transport(document)
    assert any(
        s["Effect"] == "Deny"
        and s.get("Condition", {}).get("NumericLessThan", {}).get("s3:TlsVersion") == 1.2
        for s in statements(document)
    )


@pytest.mark.parametrize("path", ["Images", "AccessLogs"])
def test_buckets_block_uploads_encrypted_with_a_customer_key(
    buckets: dict[str, dict[str, Any]], path: str
) -> None:
    rules = buckets[path]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert [r["BlockedEncryptionTypes"] for r in rules] == [{"EncryptionType": ["SSE-C"]}]


def test_uploads_asking_for_kms_encryption_are_refused_so_the_function_can_read_every_image(
    default: Synth,
) -> None:
    bucket_id = default.logical_id("Storage/Images")
    [policy] = [
        p
        for p in default.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    [deny] = [
        s
        for s in statements(policy["Properties"]["PolicyDocument"])
        if s.get("Sid") == "DenyKmsEncryptedUploads"
    ]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"} and deny["Action"] == "s3:PutObject"
    assert deny["Condition"] == {
        "StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]}
    }
    # and it covers the objects, not the bucket
    assert "/*" in str(deny["Resource"])


def test_images_bucket_is_versioned_logged_and_expires_old_versions(
    default: Synth, buckets: dict[str, dict[str, Any]]
) -> None:
    props = buckets["Images"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": default.logical_id("Storage/AccessLogs")
    }
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": NONCURRENT_VERSION_DAYS}
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_access_logs_expire_with_the_log_retention(buckets: dict[str, dict[str, Any]]) -> None:
    [rule] = buckets["AccessLogs"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 30


def test_only_s3_log_delivery_may_write_access_logs(default: Synth) -> None:
    bucket_id = default.logical_id("Storage/AccessLogs")
    [policy] = [
        p
        for p in default.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    allows = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "logging.s3.amazonaws.com"}]
    assert [s["Action"] for s in allows] == ["s3:PutObject"]


def test_data_is_retained_by_default(default: Synth) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::KMS::Key"):
        for rid, resource in default.resources(kind).items():
            assert resource["DeletionPolicy"] == "Retain", rid
            assert resource["UpdateReplacePolicy"] == "Retain", rid
    assert not default.resources("Custom::S3AutoDeleteObjects")


def test_table_keys_and_indexes_come_from_the_lambdas_table_design(default: Synth) -> None:
    index_keys = {name for i in design.INDEXES for name in (i.partition_key, i.sort_key)}
    default.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": design.PK, "KeyType": "HASH"},
                {"AttributeName": design.SK, "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in design.INDEXES
            ],
            "TimeToLiveSpecification": {"AttributeName": design.TTL_ATTRIBUTE, "Enabled": True},
        },
    )
    _, table = default.only("AWS::DynamoDB::Table")
    definitions = table["Properties"]["AttributeDefinitions"]
    assert {d["AttributeName"]: d["AttributeType"] for d in definitions} == dict.fromkeys(
        {design.PK, design.SK} | index_keys, "S"
    )


def test_table_is_on_demand_encrypted_recoverable_and_protected(default: Synth) -> None:
    _, table = default.only("AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
