"""A backfill refresh after a change of settings runs again only the analyses whose settings changed
(fingerprints.py), over the earlier result: the calls are counted at the simulated AI services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from image_analysis.adapters import dynamodb as ddb
from image_analysis.domain import table as t
from image_analysis.domain.intake import CREATED, S3Event
from image_analysis.domain.states import EventOutcome, ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime, build_runtime
from image_analysis.settings import Settings

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import RED, jpeg
from tests.support import LAYOUT, Stack

KEY = "images/harbour.jpg"


@pytest.fixture
def analysed(stack: Stack, runtime: Runtime) -> S3Event:
    """An image analysed under the default settings; the event a backfill refresh sends for it."""
    response = stack.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=jpeg((900, 600), RED))
    event = S3Event(CREATED, stack.bucket, KEY, version_id=response.get("VersionId"), refresh=True)
    assert handle_event(replace(event, refresh=False), runtime)[0] == ImageStatus.COMPLETE
    return event


@pytest.fixture
def changed(settings: Settings) -> Iterator[Runtime]:
    """The function after an operator raised the labels threshold (a redeploy: a new runtime)."""
    rt = build_runtime(replace(settings, labels_min_confidence=99.0))
    yield rt
    rt.executor.shutdown(wait=True)


def operations(double: AiServicesDouble) -> list[str]:
    return sorted(call["operation"] for call in double.calls)


def document(stack: Stack) -> dict:  # type: ignore[type-arg]
    return json.loads(stack.s3.get_object(Bucket=stack.bucket, Key=LAYOUT.json_key(KEY))["Body"].read())


def test_a_refresh_calls_only_the_analysis_whose_settings_changed(
    stack: Stack, analysed: S3Event, changed: Runtime, double: AiServicesDouble
) -> None:
    before = document(stack)
    double.reset()
    # When the backfill's refresh arrives under the new labels threshold
    outcome, result = handle_event(analysed, changed)
    # Then Rekognition DetectLabels is the only AI call made
    assert outcome == ImageStatus.COMPLETE and result is not None
    assert operations(double) == ["DetectLabels"]
    after = document(stack)
    # and the other answers are the earlier ones, unchanged, with this run's cost alone
    for kept in ("location", "text", "moderation", "faces"):
        assert after["analyses"][kept] == before["analyses"][kept], kept
    assert all(label["confidence"] >= 99.0 for label in after["analyses"]["labels"])
    assert after["cost"]["rekognition_images"] == 1 and after["cost"]["input_tokens"] == 0
    assert after["analysis_fingerprints"]["labels"] != before["analysis_fingerprints"]["labels"]
    assert after["analysis_fingerprints"]["location"] == before["analysis_fingerprints"]["location"]


def test_a_refresh_with_nothing_changed_is_a_duplicate_with_no_call(
    analysed: S3Event, runtime: Runtime, double: AiServicesDouble
) -> None:
    double.reset()
    assert handle_event(analysed, runtime) == (EventOutcome.DUPLICATE, None)
    assert double.calls == []


def test_a_refresh_of_a_record_made_before_fingerprints_analyses_everything(
    stack: Stack, analysed: S3Event, changed: Runtime, double: AiServicesDouble
) -> None:
    # Given the record and document of an earlier schema, without per-analysis fingerprints
    old = document(stack)
    del old["analysis_fingerprints"]
    stack.s3.put_object(Bucket=stack.bucket, Key=LAYOUT.json_key(KEY), Body=json.dumps(old).encode())
    changed.claims.client.update_item(
        TableName=changed.settings.results_table,
        Key=ddb.key(t.image_pk(KEY), t.RESULT_SK),
        UpdateExpression="REMOVE analysis_fingerprints",
    )
    double.reset()
    assert handle_event(analysed, changed)[0] == ImageStatus.COMPLETE
    assert {"Converse", "DetectLabels", "DetectText", "DetectModerationLabels"} <= set(operations(double))


def test_a_refresh_after_the_bytes_changed_is_a_full_analysis(
    stack: Stack, analysed: S3Event, changed: Runtime, double: AiServicesDouble
) -> None:
    response = stack.s3.put_object(Bucket=stack.bucket, Key=KEY, Body=jpeg((640, 480)))
    double.reset()
    event = replace(analysed, version_id=response.get("VersionId"))
    assert handle_event(event, changed)[0] == ImageStatus.COMPLETE
    assert "Converse" in operations(double)
