"""Deleting one version for good (DeleteObject with a VersionId) in the versioned bucket: S3 sends
`ObjectRemoved:Delete`, and an older version may be current again. Whichever version is current
afterwards is the one the record describes. Two everyday cases: undoing an overwrite (deleting the
newest version) and undeleting (deleting the delete marker). moto's S3 and DynamoDB, the simulated AI."""

from __future__ import annotations

import json
from typing import Any

from image_analysis.domain.intake import parse_body
from image_analysis.domain.states import EventOutcome, ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import BLUE, RED, jpeg
from tests.support import Stack, s3_record

KEY = "images/holiday/beach.jpg"


def deliver(runtime: Runtime, event_name: str, bucket: str, version_id: str | None = None) -> Any:
    """The S3 notification as the queue delivers it, through the same intake as the handler."""
    body = {"Records": [s3_record(event_name, bucket, KEY, version_id=version_id)]}
    (event,) = parse_body(json.dumps(body))
    return handle_event(event, runtime)[0]


def put(stack: Stack, runtime: Runtime, data: bytes) -> str:
    version = stack.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=data)["VersionId"]
    assert deliver(runtime, "ObjectCreated:Put", stack.bucket, version) == ImageStatus.COMPLETE
    return str(version)


def test_deleting_the_newest_version_analyses_the_version_that_is_current_again(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given a photo overwritten by a second one, both analysed
    first = put(stack, runtime, jpeg((640, 480), RED))
    second = put(stack, runtime, jpeg((640, 480), BLUE))
    assert runtime.claims.get(KEY)["version_tag"] == second  # type: ignore[index]
    # When the newest version is deleted for good (undoing the overwrite)
    stack.s3.delete_object(Bucket=stack.bucket, Key=KEY, VersionId=second)
    outcome = deliver(runtime, "ObjectRemoved:Delete", stack.bucket, second)
    # Then the record describes the first version again, analysed afresh
    record = runtime.claims.get(KEY)
    assert outcome == ImageStatus.COMPLETE
    assert record is not None and record["version_tag"] == first and record["status"] == "complete"
    assert "Red" in record["labels"]


def test_deleting_the_delete_marker_brings_the_image_and_its_record_back(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given a photo analysed, then deleted (a delete marker), its record removed
    first = put(stack, runtime, jpeg((640, 480), RED))
    marker = stack.s3.delete_object(Bucket=stack.bucket, Key=KEY)["VersionId"]
    assert deliver(runtime, "ObjectRemoved:DeleteMarkerCreated", stack.bucket, marker) == EventOutcome.REMOVED
    assert runtime.claims.get(KEY) is None
    # When the delete marker is deleted (the console's undelete)
    stack.s3.delete_object(Bucket=stack.bucket, Key=KEY, VersionId=marker)
    outcome = deliver(runtime, "ObjectRemoved:Delete", stack.bucket, marker)
    # Then the image has its record again
    record = runtime.claims.get(KEY)
    assert outcome == ImageStatus.COMPLETE
    assert record is not None and record["version_tag"] == first and record["status"] == "complete"


def test_deleting_an_old_version_leaves_the_current_record_alone_and_calls_no_ai(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    # Given a photo overwritten once, the newest analysed
    first = put(stack, runtime, jpeg((640, 480), RED))
    second = put(stack, runtime, jpeg((640, 480), BLUE))
    double.reset()
    # When the OLD version is deleted for good
    stack.s3.delete_object(Bucket=stack.bucket, Key=KEY, VersionId=first)
    outcome = deliver(runtime, "ObjectRemoved:Delete", stack.bucket, first)
    # Then the current version's record stays as it was, without a new analysis
    record = runtime.claims.get(KEY)
    assert outcome == EventOutcome.DUPLICATE
    assert record is not None and record["version_tag"] == second
    assert double.calls == []


def test_deleting_the_only_version_removes_the_record(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    only = put(stack, runtime, jpeg((640, 480), RED))
    stack.s3.delete_object(Bucket=stack.bucket, Key=KEY, VersionId=only)
    assert deliver(runtime, "ObjectRemoved:Delete", stack.bucket, only) == EventOutcome.REMOVED
    assert runtime.claims.get(KEY) is None
