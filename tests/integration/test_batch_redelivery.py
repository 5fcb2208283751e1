"""A batch under pressure: throttling is not a crash, failed images come back soon, and no invocation
starts an image it may not have time to finish. Real SQS messages on moto's server, the AI double."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from image_analysis.batch import MAX_DELAY_S, delay_s, process_batch
from image_analysis.domain.states import ImageStatus
from image_analysis.runtime import Runtime, build_runtime
from image_analysis.settings import Settings

from imgpipe.local.context import InvocationContext
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import BLUE, GREEN, RED, jpeg
from tests.support import Stack, s3_record

QUEUE_VISIBILITY_S = 120  # what a failed message would wait without the function's own back-off


@pytest.fixture
def queue(stack: Stack) -> tuple[str, str]:
    """An SQS queue on the moto server the stack lives on: (URL, ARN)."""
    client = _sqs()
    url = client.create_queue(
        QueueName=f"uploads-{uuid.uuid4().hex[:8]}",
        Attributes={"VisibilityTimeout": str(QUEUE_VISIBILITY_S)},
    )["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _sqs() -> Any:
    return boto3.client("sqs")


def deliver(stack: Stack, queue: tuple[str, str], images: dict[str, bytes]) -> dict[str, Any]:
    """Upload the images, send their S3 events through the queue and receive them as Lambda would."""
    url, arn = queue
    for key, data in images.items():
        response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
        record = s3_record("ObjectCreated:Put", stack.bucket, key, response["VersionId"], response["ETag"])
        _sqs().send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))
    received: list[dict[str, Any]] = []
    while len(received) < len(images):
        received += (
            _sqs()
            .receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1)
            .get("Messages", [])
        )
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for m in received
        ]
    }


def received_within(queue: tuple[str, str], expected: int, seconds: float) -> dict[str, dict[str, Any]]:
    """The messages receivable within `seconds`, by id (stops once `expected` have come)."""
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(seen) < expected:
        response = _sqs().receive_message(
            QueueUrl=queue[0], MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        seen.update((message["MessageId"], message) for message in response.get("Messages", []))
    return seen


def visible_within(queue: tuple[str, str], expected: int, seconds: float) -> int:
    return len(received_within(queue, expected, seconds))


@pytest.fixture
def fast_retry(stack: Stack) -> Iterator[Runtime]:
    """One attempt per call (a throttle fails the image at once) and a one-second back-off base."""
    rt = build_runtime(
        Settings(results_table=stack.table, max_attempts=1, retry_delay_s=1, enable_embeddings=False)
    )
    yield rt
    rt.executor.shutdown(wait=True)


def test_a_batch_where_every_image_is_throttled_fails_its_items_not_the_invocation(
    stack: Stack, queue: tuple[str, str], fast_retry: Runtime, double: AiServicesDouble
) -> None:
    # Given two images whose Bedrock calls are all throttled
    event = deliver(stack, queue, {"images/a.jpg": jpeg(colour=RED), "images/b.jpg": jpeg(colour=BLUE)})
    double.configure(throttle_rate=1.0)
    # When their batch is handled
    response = process_batch(event, InvocationContext(), fast_retry)
    # Then the invocation succeeds (Errors counts crashes only) and reports both as failed items
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {
        r["messageId"] for r in event["Records"]
    }
    # and both come back after the function's short back-off, not the queue's two minutes
    assert visible_within(queue, 2, seconds=10) == 2


def test_an_image_is_not_started_without_time_for_its_worst_case(
    stack: Stack, queue: tuple[str, str], fast_retry: Runtime, double: AiServicesDouble
) -> None:
    # Given a batch of three and an invocation with less time left than one image may take
    images = {"images/1.jpg": jpeg(colour=RED), "images/2.jpg": jpeg(colour=GREEN), "images/3.jpg": jpeg()}
    event = deliver(stack, queue, images)
    worst = fast_retry.settings.worst_case_image_s
    # When the batch runs
    response = process_batch(event, InvocationContext(timeout_s=worst - 1), fast_retry)
    # Then the first image is analysed (the synth guarantees one fits), the others are not started
    first, deferred = event["Records"][0], event["Records"][1:]
    first_key = json.loads(first["body"])["Records"][0]["s3"]["object"]["key"]
    assert (fast_retry.claims.get(first_key) or {}).get("status") == ImageStatus.COMPLETE
    others = [k for k in images if k != first_key]
    assert all(fast_retry.claims.get(k) is None for k in others), "a deferred image was started"
    assert len([c for c in double.calls if c["operation"] == "Converse"]) == 1
    # but acknowledged, because a fresh copy of each is on the queue: deferring spent none of their
    # receives (five receives park a message in the DLQ)
    assert response["batchItemFailures"] == []
    copies = received_within(queue, 2, seconds=10).values()
    assert sorted(m["Body"] for m in copies) == sorted(r["body"] for r in deferred)
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in copies} == {"1"}


def test_a_deferred_record_that_cannot_be_requeued_fails_and_backs_off(
    stack: Stack, queue: tuple[str, str], fast_retry: Runtime, double: AiServicesDouble
) -> None:
    # Given a batch whose queue cannot be sent to (here: its source ARN names no queue)
    event = deliver(stack, queue, {"images/1.jpg": jpeg(colour=RED), "images/2.jpg": jpeg(colour=GREEN)})
    event["Records"][1]["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    # When the second record has no time to start
    context = InvocationContext(timeout_s=fast_retry.settings.worst_case_image_s - 1)
    response = process_batch(event, context, fast_retry)
    # Then it is a failed item, so SQS keeps it: nothing is lost
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [event["Records"][1]["messageId"]]


@pytest.mark.parametrize(("receives", "low", "high"), [(1, 8, 12), (2, 16, 24), (4, 64, 96), (12, 720, 900)])
def test_the_back_off_doubles_with_each_receive_and_is_capped(receives: int, low: int, high: int) -> None:
    delays = {delay_s(10, receives, jitter=lambda j=j: j) for j in (0.0, 0.5, 0.999)}
    assert all(low <= d <= high for d in delays) and max(delays) <= MAX_DELAY_S
