"""Who owns an image key when uploads and removals of it race: never a stale event.

Each test builds one unlucky interleaving deterministically: an S3 client wrapper runs the competing
work at the exact moment between two of the pipeline's own calls (moto's server and the AI double).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from image_analysis.adapters.s3 import S3Store
from image_analysis.domain import table as t
from image_analysis.domain.errors import TransientError
from image_analysis.domain.intake import CREATED, REMOVED, S3Event
from image_analysis.domain.states import ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import BLUE, RED, jpeg
from tests.support import LAYOUT, Stack

KEY = "images/race/photo.jpg"


class S3WithHook:
    """Test double around a real S3 client: after the first call of `operation`, runs `hook` once."""

    def __init__(self, client: Any, operations: tuple[str, ...], hook: Callable[[], None]) -> None:
        self._client, self._operations, self._hook = client, operations, hook
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in self._operations:
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            response = method(*args, **kwargs)
            if not self.fired:
                self.fired = True
                self._hook()
            return response

        return call


def put(stack: Stack, data: bytes, key: str = KEY) -> S3Event:
    response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
    return S3Event(
        CREATED, stack.bucket, key, response.get("VersionId"), response["ETag"].strip('"'), len(data)
    )


def delete(stack: Stack, key: str = KEY) -> S3Event:
    response = stack.s3.delete_object(Bucket=stack.bucket, Key=key)
    return S3Event(REMOVED, stack.bucket, key, response.get("VersionId"))


def results(stack: Stack, key: str = KEY) -> set[str]:
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=LAYOUT.json_key(key)[: -len(".json")])
    return {o["Key"] for o in listed.get("Contents", [])}


def label_items(runtime: Runtime, key: str = KEY) -> int:
    response = runtime.claims.client.query(
        TableName=runtime.claims.name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :label)",
        ExpressionAttributeValues={":pk": {"S": t.image_pk(key)}, ":label": {"S": "LABEL#"}},
        ConsistentRead=True,
    )
    return len(response["Items"])


def assert_analysed(stack: Stack, runtime: Runtime, event: S3Event) -> None:
    """The key's record, label items and both result documents belong to this upload."""
    record = runtime.claims.get(event.key)
    assert record is not None, "the upload lost its record"
    assert record["status"] == ImageStatus.COMPLETE and record["version_tag"] == event.version_id
    assert results(stack, event.key) == {LAYOUT.json_key(event.key), LAYOUT.text_key(event.key)}
    assert label_items(runtime, event.key) > 0


def wait_for_claim(runtime: Runtime, key: str = KEY) -> None:
    deadline = time.monotonic() + 30
    while (runtime.claims.get(key) or {}).get("status") != ImageStatus.PROCESSING:
        assert time.monotonic() < deadline, "the analysis never claimed the key"
        time.sleep(0.02)


def test_a_removal_checked_before_a_reupload_leaves_the_reupload_alone(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given an analysed image, deleted: its removal event has just seen that the key is gone
    handle_event(put(stack, jpeg(colour=RED)), runtime)
    removal = delete(stack)
    double.configure(latency_bedrock=1.0)  # the re-upload is mid-analysis while the removal goes on
    pool = ThreadPoolExecutor(1)
    reupload: dict[str, Any] = {}

    def reupload_and_start_analysing() -> None:
        reupload["event"] = put(stack, jpeg(colour=BLUE))
        reupload["future"] = pool.submit(handle_event, reupload["event"], runtime)
        wait_for_claim(runtime)

    s3 = S3WithHook(runtime.s3.client, ("head_object", "list_objects_v2"), reupload_and_start_analysing)
    # When the removal goes on after the same key was uploaded again and its analysis claimed it
    outcome, _ = handle_event(removal, replace(runtime, s3=S3Store(s3)))
    # Then the removal stands down, and the re-upload ends analysed, with its results
    assert s3.fired and outcome == "stale_removal"
    assert reupload["future"].result(timeout=60)[0] == ImageStatus.COMPLETE
    pool.shutdown()
    assert_analysed(stack, runtime, reupload["event"])


def test_an_analysis_cannot_claim_a_key_while_its_removal_runs(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given a removal that holds the key (between its lock and its deletes)
    handle_event(put(stack, jpeg(colour=RED)), runtime)
    removal = delete(stack)
    attempts: list[BaseException | str] = []

    def reupload_and_try_to_analyse() -> None:
        event = put(stack, jpeg(colour=BLUE))
        try:
            attempts.append(handle_event(event, runtime)[0])
        except TransientError as exc:
            attempts.append(exc)
        attempts.append("uploaded")

    # the removal's third existence check runs after it took the lock; the hook runs before it
    s3 = S3WithHook(runtime.s3.client, ("delete_objects",), reupload_and_try_to_analyse)
    outcome, _ = handle_event(removal, replace(runtime, s3=S3Store(s3)))
    # Then the analysis was told to come back later, and did not hold up or undo the removal
    assert isinstance(attempts[0], TransientError) and "being removed" in str(attempts[0])
    assert outcome == "removed"
    # and its retry (SQS redelivers it) analyses the re-upload in full
    latest = stack.s3.head_object(Bucket=stack.bucket, Key=KEY)
    event = S3Event(CREATED, stack.bucket, KEY, latest["VersionId"], latest["ETag"].strip('"'), 1)
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE
    assert_analysed(stack, runtime, event)


def test_a_removal_waits_for_an_analysis_of_the_deleted_version(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given an analysis in progress of a version that is deleted meanwhile (Claude answers after 5 s:
    # long enough that the removal below meets it in flight even on a loaded machine)
    double.configure(latency_bedrock=5.0)
    with ThreadPoolExecutor(1) as pool:
        analysis = pool.submit(handle_event, put(stack, jpeg(colour=RED)), runtime)
        wait_for_claim(runtime)
        removal = delete(stack)
        # When its removal event arrives, it is retried later rather than racing the analysis
        with pytest.raises(TransientError, match="being analysed or removed"):
            handle_event(removal, runtime)
        analysis.result(timeout=60)
    # Then the retried removal removes everything the analysis wrote
    assert handle_event(removal, runtime)[0] == "removed"
    assert runtime.claims.get(KEY) is None and results(stack) == set() and label_items(runtime) == 0


def test_a_claim_for_a_version_replaced_meanwhile_puts_back_the_newer_record(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given a late delivery that read version 1 just before version 2 replaced it and was analysed
    first = put(stack, jpeg(colour=RED))
    newer: dict[str, S3Event] = {}

    def replace_and_analyse() -> None:
        newer["event"] = put(stack, jpeg(colour=BLUE))
        assert handle_event(newer["event"], runtime)[0] == ImageStatus.COMPLETE

    s3 = S3WithHook(runtime.s3.client, ("get_object",), replace_and_analyse)
    # When the late delivery goes on to claim the key
    outcome, result = handle_event(first, replace(runtime, s3=S3Store(s3)))
    # Then it notices, puts version 2's record back untouched, and analyses nothing
    assert s3.fired and outcome == "superseded" and result is None
    assert_analysed(stack, runtime, newer["event"])


def test_losing_the_claim_without_a_newer_version_is_not_acknowledged(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given an analysis whose claim disappears before it commits (no newer version exists)
    event = put(stack, jpeg(colour=RED))
    double.configure(latency_bedrock=1.0)
    claimed = threading.Event()

    def drop_the_claim() -> None:
        wait_for_claim(runtime)
        runtime.claims.client.delete_item(
            TableName=runtime.claims.name, Key={"pk": {"S": t.image_pk(KEY)}, "sk": {"S": t.RESULT_SK}}
        )
        claimed.set()

    with ThreadPoolExecutor(1) as pool:
        dropper = pool.submit(drop_the_claim)
        # When it finishes, the commit fails: the message must be retried, not acknowledged
        with pytest.raises(TransientError, match="lost the claim"):
            handle_event(event, runtime)
        dropper.result()
    # Then nothing half-written is left behind, and the retry analyses the image in full
    assert results(stack) == set()
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE
    assert_analysed(stack, runtime, event)


def test_a_non_empty_object_named_like_a_folder_gets_a_failed_record(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given an image uploaded under a key that ends in '/', and an empty folder marker beside it
    uploaded = put(stack, jpeg(), key="images/trip/")
    marker = put(stack, b"", key="images/empty folder/")
    # When their events are handled
    outcome, result = handle_event(uploaded, runtime)
    # Then the upload is accounted for: failed, with the reason, and no AI call was spent on it
    assert outcome == ImageStatus.FAILED and result is not None and result.error is not None
    assert result.error.code == "unsafe_key" and "ends in '/'" in result.error.message
    record = runtime.claims.get("images/trip/")
    assert (
        record is not None and record["status"] == ImageStatus.FAILED and record["error_code"] == "unsafe_key"
    )
    assert double.calls == []
    # and the empty marker is no upload at all
    assert handle_event(marker, runtime) == ("ignored", None)
    assert runtime.claims.get("images/empty folder/") is None
