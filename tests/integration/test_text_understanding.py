"""Text understanding through the whole pipeline: moto's S3 and DynamoDB, the AI double's DetectText
(a yellow picture reads like a receipt there) and its Comprehend (rules: imgpipe/simulated/words.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from image_analysis import handler
from image_analysis.domain import table as t
from image_analysis.domain.errors import TransientError
from image_analysis.domain.states import ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime

from imgpipe.local.context import InvocationContext
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import jpeg
from tests.integration.test_faces import stored, upload
from tests.support import Stack, s3_record, sqs_event

RECEIPT = jpeg((640, 480), (240, 230, 30))  # mean colour Yellow: the double reads a receipt
FRENCH_SIGN = jpeg((640, 480), (130, 30, 160))  # Purple: a French station sign
PII_VALUES = ("4111", "Jane Doe", "Main Street", "Springfield")


def comprehend_calls(double: AiServicesDouble) -> list[str]:
    return [c["operation"] for c in double.calls if c["service"] == "comprehend"]


def test_text_with_pii_is_understood_marked_and_listed_in_the_sparse_index(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    outcome, result = handle_event(upload(stack, "images/receipt.jpg", RECEIPT), runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None
    insights = result.analyses.comprehension
    assert insights is not None and insights.language == "en"
    assert {(e.type, e.text) for e in insights.entities} >= {("PERSON", "Jane Doe")}
    assert insights.pii_types == ["ADDRESS", "CREDIT_DEBIT_NUMBER", "NAME"] and result.has_pii
    assert sorted(comprehend_calls(double)) == [
        "DetectDominantLanguage", "DetectEntities", "DetectKeyPhrases", "DetectPiiEntities"
    ]  # fmt: skip
    record = runtime.claims.get("images/receipt.jpg")
    assert record is not None and record["has_pii"] and record["language"] == "en"
    assert record["pii_types"] == ["ADDRESS", "CREDIT_DEBIT_NUMBER", "NAME"]
    listed = stack.dynamodb.query(
        TableName=stack.table,
        IndexName=t.PII.name,
        KeyConditionExpression="gsi4pk = :p",
        ExpressionAttributeValues={":p": {"S": t.PII_PK}},
    )["Items"]
    assert [i["image_key"]["S"] for i in listed] == ["images/receipt.jpg"]
    document, text = stored(stack, "images/receipt.jpg")
    assert document["analyses"]["comprehension"]["pii"][0].keys() == {"type", "score", "begin", "end"}
    assert "Personal information: ADDRESS, CREDIT_DEBIT_NUMBER, NAME" in text
    # units of 100 characters, at least 3 a request, priced by configuration
    assert result.cost.comprehend_units == 12 and result.cost.estimated_usd > 0


def test_tiny_text_makes_no_call_and_images_without_pii_stay_out_of_the_index(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    _, result = handle_event(upload(stack, "images/plain.jpg", jpeg()), runtime)  # "FP <16 hex>" only
    assert result is not None and result.status == ImageStatus.COMPLETE
    reason = result.analyses.outcomes["comprehension"].reason
    assert result.analyses.outcomes["comprehension"].status == "skipped" and "too little text" in str(reason)
    assert comprehend_calls(double) == [] and result.cost.comprehend_units == 0
    record = runtime.claims.get("images/plain.jpg")
    assert record is not None and record["has_pii"] is False and "gsi4pk" not in record


def test_a_language_without_pii_support_skips_that_call_only(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    _, result = handle_event(upload(stack, "images/gare.jpg", FRENCH_SIGN), runtime)
    assert result is not None and result.status == ImageStatus.COMPLETE
    insights = result.analyses.comprehension
    assert insights is not None and insights.language == "fr" and not insights.has_pii
    assert "DetectPiiEntities" not in comprehend_calls(double)
    assert ("LOCATION", "rue de la Paix") in {(e.type, e.text) for e in insights.entities}


def test_switched_off_or_without_text_detection_nothing_is_sent(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    runtime.settings = replace(runtime.settings, enable_comprehension=False)
    _, off = handle_event(upload(stack, "images/off.jpg", RECEIPT), runtime)
    runtime.settings = replace(runtime.settings, enable_comprehension=True, enable_text=False)
    _, no_text = handle_event(upload(stack, "images/no-text.jpg", RECEIPT), runtime)
    assert off is not None and off.analyses.outcomes["comprehension"].reason == "switched off"
    assert no_text is not None and "ENABLE_TEXT" in str(no_text.analyses.outcomes["comprehension"].reason)
    assert comprehend_calls(double) == []


@pytest.mark.parametrize("operation", ["DetectDominantLanguage", "DetectPiiEntities"])
def test_a_comprehend_refusal_makes_the_image_partial_not_failed(
    stack: Stack, runtime: Runtime, double: AiServicesDouble, operation: str
) -> None:
    double.fail_next(operation, 1, "TextSizeLimitExceededException")
    outcome, result = handle_event(upload(stack, "images/refused.jpg", RECEIPT), runtime)
    assert outcome == ImageStatus.PARTIAL and result is not None
    assert result.analyses.outcomes["comprehension"].status == "failed"
    assert result.analyses.labels and result.analyses.text and result.analyses.comprehension is None
    record = runtime.claims.get("images/refused.jpg")
    assert record is not None and record["status"] == "partial" and record["has_pii"] is False


def test_a_comprehend_outage_is_retried_as_a_whole(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    double.fail_next("DetectEntities", runtime.settings.max_attempts, "InternalServerException")
    with pytest.raises(TransientError, match="Comprehend DetectEntities"):
        handle_event(upload(stack, "images/later.jpg", RECEIPT), runtime)
    assert runtime.claims.get("images/later.jpg")["status"] == "retrying"  # type: ignore[index]


@pytest.fixture
def lambda_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RESULTS_TABLE", stack.table)
    monkeypatch.setenv("ENABLE_EMBEDDINGS", "false")  # moto has no S3 Vectors (see test_embeddings.py)
    handler.runtime.cache_clear()
    yield
    handler.runtime.cache_clear()


def test_pii_values_never_reach_logs_or_metrics(
    stack: Stack,
    lambda_env: None,
    double: AiServicesDouble,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # print the EMF metrics to stdout
    caplog.set_level(logging.INFO)  # the function's level (botocore's DEBUG would echo request bodies)
    double.fail_next("DetectKeyPhrases", 1, "ResourceUnavailableException")  # a failure is logged too
    for key in ("images/card.jpg", "images/card2.jpg"):
        response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=RECEIPT)
        record = s3_record("ObjectCreated:Put", stack.bucket, key, response.get("VersionId"))
        event = sqs_event({"Records": [record]})
        assert handler.lambda_handler(event, InvocationContext()) == {"batchItemFailures": []}  # type: ignore[arg-type]
    captured = capsys.readouterr()  # the metrics (EMF documents Powertools prints)
    # Every log record's message and the fields it carries (Powertools passes them as extras)
    standard = set(vars(logging.makeLogRecord({})))
    logged = [
        json.dumps(
            {"message": r.getMessage()} | {k: v for k, v in vars(r).items() if k not in standard}, default=str
        )
        for r in caplog.records
    ]
    output = captured.out + captured.err + "\n".join(logged)
    analysed = [r.__dict__ for r in caplog.records if r.getMessage() == "image analysed"]
    assert [a["status"] for a in analysed] == ["partial", "complete"]
    assert "comprehension" in analysed[0]["failed_analyses"]
    assert analysed[1]["pii_types"] == ["ADDRESS", "CREDIT_DEBIT_NUMBER", "NAME"]  # the types are logged
    assert "ImagesWithPii" in output  # and counted
    for value in PII_VALUES:
        assert value not in output, value
