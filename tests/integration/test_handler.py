"""The Lambda entry point, driven by realistic SQS-wrapped S3 event notifications."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from image_analysis import handler
from image_analysis.domain.states import ImageStatus

from imgpipe.local.context import InvocationContext
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import jpeg
from tests.support import LAYOUT, Stack, s3_record, sqs_event

AWKWARD_KEYS = [
    "images/summer trip/beach day.jpg",
    "images/a+b=c.jpg",
    "images/日本/東京 タワー.jpg",
    "images/100% real/photo (1).jpg",
    "images/deep/er/and/deeper/x.jpg",
]


@pytest.fixture
def lambda_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RESULTS_TABLE", stack.table)
    monkeypatch.setenv("ENABLE_EMBEDDINGS", "false")  # moto has no S3 Vectors (see test_embeddings.py)
    monkeypatch.setenv("MAX_ATTEMPTS", "1")
    handler.runtime.cache_clear()
    yield
    handler.runtime.cache_clear()


def upload(stack: Stack, key: str, data: bytes) -> dict[str, object]:
    response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
    return {
        "Records": [
            s3_record(
                "ObjectCreated:Put", stack.bucket, key, response.get("VersionId"), response["ETag"].strip('"')
            )
        ]
    }


def test_awkward_keys_arrive_url_encoded_and_each_gets_its_result(stack: Stack, lambda_env: None) -> None:
    # Given uploads whose keys S3 URL-encodes in the notification (spaces as '+', '+' as '%2B')
    bodies = [upload(stack, key, jpeg()) for key in AWKWARD_KEYS]
    assert "summer+trip/beach+day.jpg" in json.dumps(bodies[0]) and "a%2Bb%3Dc" in json.dumps(bodies[1])
    # When one SQS batch carries them, behind the test event S3 sends when notifications are set up
    response = handler.lambda_handler(
        sqs_event({"Event": "s3:TestEvent", "Bucket": stack.bucket}, *bodies), InvocationContext()
    )
    # Then nothing failed and each key has exactly its own result document
    assert response == {"batchItemFailures": []}
    results = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/")["Contents"]
    assert sorted(o["Key"] for o in results) == sorted(
        LAYOUT.result_key(k, suffix) for k in AWKWARD_KEYS for suffix in (".json", ".txt")
    )


def test_one_bad_message_fails_alone_while_good_and_bad_images_are_acknowledged(
    stack: Stack, lambda_env: None, double: AiServicesDouble
) -> None:
    good = upload(stack, "images/good.jpg", jpeg())
    not_image = upload(stack, "images/notes.jpg", b"shopping list: eggs")
    throttled = upload(stack, "images/throttled.jpg", jpeg((500, 500)))
    double.fail_next("Converse", 1, "ThrottlingException")  # the first Converse call: good or throttled
    event = sqs_event("this is not JSON", not_image, throttled, good)
    response = handler.lambda_handler(event, InvocationContext())
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    # The malformed message and the throttled image go back to the queue; the rest are done
    assert failed == {"message-0", "message-2"}
    statuses = {
        key: (handler.runtime().claims.get(key) or {}).get("status")
        for key in ("images/good.jpg", "images/notes.jpg", "images/throttled.jpg")
    }
    assert statuses == {
        "images/good.jpg": ImageStatus.COMPLETE,
        "images/notes.jpg": ImageStatus.FAILED,
        "images/throttled.jpg": ImageStatus.RETRYING,
    }


def test_a_removal_event_deletes_the_results(stack: Stack, lambda_env: None) -> None:
    handler.lambda_handler(sqs_event(upload(stack, "images/old photo.jpg", jpeg())), InvocationContext())
    stack.s3.delete_object(Bucket=stack.bucket, Key="images/old photo.jpg")
    removal = {
        "Records": [s3_record("ObjectRemoved:DeleteMarkerCreated", stack.bucket, "images/old photo.jpg")]
    }
    response = handler.lambda_handler(sqs_event(removal), InvocationContext())
    assert response == {"batchItemFailures": []}
    assert stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/").get("KeyCount") == 0
    assert handler.runtime().claims.get("images/old photo.jpg") is None
