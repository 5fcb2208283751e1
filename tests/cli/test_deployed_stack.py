"""`--stack NAME`: the same commands against a deployed stack, found through its CloudFormation outputs.

moto's server stands in for the account: the test creates the stack's bucket, table and queues and a
CloudFormation stack whose outputs name them (the output keys are infra/outputs.py's), then runs the
CLI in its own process with AWS_ENDPOINT_URL pointing at moto. No Lambda runs here: what reaches the
queue is what the deployed function would receive.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from image_analysis.domain import table as t
from image_analysis.domain.intake import parse_body
from image_analysis.domain.states import ImageStatus
from image_analysis.domain.table import create_table_request

from infra import outputs
from tests.cli.helpers import PHOTOS, as_json, describe, imgpipe, ok, write_photos


@dataclass(frozen=True)
class FakeStack:
    name: str
    bucket: str
    table: str
    queue_url: str
    env: dict[str, str]
    s3: Any
    sqs: Any
    dynamodb: Any

    def messages(self) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for _ in range(50):
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
            ).get("Messages", [])
            if not batch:
                break
            found.update((m["MessageId"], m) for m in batch)
        return list(found.values())


@pytest.fixture
def fake_stack(moto_endpoint: str) -> Iterator[FakeStack]:
    suffix = uuid.uuid4().hex[:8]
    clients = {
        name: boto3.client(name, endpoint_url=moto_endpoint)
        for name in ("s3", "sqs", "dynamodb", "cloudformation")
    }
    bucket, table = f"imgpipe-deployed-{suffix}", f"imgpipe-deployed-{suffix}"
    clients["s3"].create_bucket(Bucket=bucket)
    clients["s3"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    clients["dynamodb"].create_table(**create_table_request(table))
    queue = clients["sqs"].create_queue(QueueName=f"imgpipe-deployed-{suffix}")["QueueUrl"]
    dlq = clients["sqs"].create_queue(QueueName=f"imgpipe-deployed-dlq-{suffix}")["QueueUrl"]
    values = {
        outputs.BUCKET_NAME: bucket,
        outputs.UPLOAD_PREFIX: "images/",
        outputs.RESULTS_PREFIX: "results/",
        outputs.RESULTS_TABLE_NAME: table,
        outputs.QUEUE_URL: queue,
        outputs.DEAD_LETTER_QUEUE_URL: dlq,
    }
    template = {
        "Resources": {
            "Placeholder": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"placeholder-{suffix}"}}
        },
        "Outputs": {key: {"Value": value} for key, value in values.items()},
    }
    name = f"ImagePipeline{suffix}"
    clients["cloudformation"].create_stack(StackName=name, TemplateBody=json.dumps(template))
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_endpoint}
    yield FakeStack(name, bucket, table, queue, env, clients["s3"], clients["sqs"], clients["dynamodb"])
    clients["cloudformation"].delete_stack(StackName=name)


def test_a_missing_stack_exits_2_naming_stack_and_region(fake_stack: FakeStack) -> None:
    done = imgpipe("stats", "--stack", "DoesNotExist", "--region", "eu-west-1", env=fake_stack.env)
    assert done.returncode == 2, describe(done)
    assert "No stack named DoesNotExist in eu-west-1" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_credentials_exits_2_with_how_to_configure_them(fake_stack: FakeStack, tmp_path: Path) -> None:
    env = {k: v for k, v in fake_stack.env.items() if not k.startswith("AWS_") or k == "AWS_ENDPOINT_URL"}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
    )
    done = imgpipe("query", "--stack", fake_stack.name, env=env)
    assert done.returncode == 2, describe(done)
    assert "No AWS credentials found" in done.stderr and "aws configure" in done.stderr


def test_a_stack_without_the_outputs_is_not_taken_for_the_pipeline(
    fake_stack: FakeStack, moto_endpoint: str
) -> None:
    cloudformation = boto3.client("cloudformation", endpoint_url=moto_endpoint)
    name = f"Other{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name.lower()}}}}
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    done = imgpipe("stats", "--stack", name, env=fake_stack.env)
    assert done.returncode == 2 and "lacks the outputs" in done.stderr, describe(done)


def test_upload_backfill_stats_and_query_against_a_deployed_stack(
    fake_stack: FakeStack, tmp_path: Path
) -> None:
    stack, env = fake_stack, fake_stack.env
    write_photos(tmp_path / "photos")
    keys = {f"images/2026/{relative}" for relative in PHOTOS}

    empty = imgpipe("query", "--stack", stack.name, env=env)
    assert empty.returncode == 1 and "is empty" in empty.stderr, describe(empty)

    done = ok(imgpipe("upload", tmp_path / "photos", "--prefix", "2026", "--stack", stack.name, env=env))
    assert f"Uploaded {len(PHOTOS)} image(s)" in done.stdout and "imgpipe stats --stack" in done.stdout
    listed = {o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.bucket)["Contents"]}
    assert listed == keys
    head = stack.s3.head_object(Bucket=stack.bucket, Key="images/2026/same/a.png")
    assert head["ContentType"] == "image/png" and len(head["Metadata"]["sha256"]) == 64

    # One image is done in its current version: backfill (no --force) leaves it alone.
    done_key = "images/2026/red-1.jpg"
    version = stack.s3.head_object(Bucket=stack.bucket, Key=done_key)["VersionId"]
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={
            "pk": {"S": t.image_pk(done_key)},
            "sk": {"S": t.RESULT_SK},
            "image_key": {"S": done_key},
            "status": {"S": ImageStatus.COMPLETE},
            "version_tag": {"S": version},
            "updated_at": {"S": "2026-01-01T00:00:00.000Z"},
            "input_tokens": {"N": "100"},
            "output_tokens": {"N": "20"},
            "cost_usd": {"N": "0.0006"},
            t.BY_STATUS.partition_key: {"S": t.status_pk(ImageStatus.COMPLETE)},
            t.BY_STATUS.sort_key: {"S": t.time_sort_key("2026-01-01T00:00:00.000Z", done_key)},
        },
    )
    checkpoint = tmp_path / "checkpoint.json"
    done = ok(
        imgpipe("backfill", "--stack", stack.name, "--checkpoint", checkpoint, "--page-size", "3", env=env)
    )
    assert f"enqueued {len(PHOTOS) - 1}" in done.stdout, describe(done)
    assert not checkpoint.exists()
    stats = as_json(imgpipe("stats", "--stack", stack.name, "--json", env=env))
    assert stats["queued"] == len(PHOTOS) - 1 and stats["statuses"]["complete"] == 1
    assert (stats["input_tokens"], stats["output_tokens"], stats["dead_letters"]) == (100, 20, 0)
    events = [event for m in stack.messages() for event in parse_body(m["Body"])]
    assert {e.key for e in events} == keys - {done_key}  # spaces and '+' survive the URL encoding
    assert not any(e.force for e in events) and {e.bucket for e in events} == {stack.bucket}

    forced = ok(
        imgpipe(
            "backfill", "2026/trip", "--force", "--stack", stack.name, "--checkpoint", checkpoint, env=env
        )
    )
    assert "enqueued 2" in forced.stdout, describe(forced)
    events = [event for m in stack.messages() for event in parse_body(m["Body"])]
    assert {e.key for e in events} == {k for k in keys if k.startswith("images/2026/trip/")}
    assert all(e.force for e in events)

    (record,) = as_json(imgpipe("query", "--stack", stack.name, "--status", "complete", "--json", env=env))
    assert record["image_key"] == done_key
