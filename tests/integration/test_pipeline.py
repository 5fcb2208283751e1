"""The pipeline end to end for single events: moto's S3/DynamoDB server and the AI test double."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from image_analysis.domain import table as t
from image_analysis.domain.errors import ConfigurationError, TransientError
from image_analysis.domain.intake import CREATED, REMOVED, S3Event
from image_analysis.domain.models import SCHEMA_VERSION, ImageResult
from image_analysis.domain.states import EventOutcome, ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime

from imgpipe.simulated.ai_answers import fingerprint
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import RED, encode, exif_with, jpeg, scene
from tests.support import LAYOUT, Stack

Upload = Callable[..., S3Event]


@pytest.fixture
def upload(stack: Stack) -> Upload:
    def put(key: str, data: bytes, force: bool = False) -> S3Event:
        response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
        return S3Event(
            CREATED,
            stack.bucket,
            key,
            version_id=response.get("VersionId"),
            etag=response["ETag"].strip('"'),
            size=len(data),
            force=force,
        )

    return put


def read_json(stack: Stack, image_key: str) -> dict[str, Any]:
    body = stack.s3.get_object(Bucket=stack.bucket, Key=LAYOUT.json_key(image_key))["Body"].read()
    return dict(json.loads(body))


def read_text(stack: Stack, image_key: str) -> str:
    return str(
        stack.s3.get_object(Bucket=stack.bucket, Key=LAYOUT.text_key(image_key))["Body"].read().decode()
    )


def record(runtime: Runtime, image_key: str) -> dict[str, Any] | None:
    return runtime.claims.get(image_key)


def ai_calls(double: AiServicesDouble) -> list[str]:
    return [call["operation"] for call in double.calls]


def test_an_image_becomes_json_text_and_a_queryable_record(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    # Given a photo with GPS in Paris
    data = jpeg((1600, 1200), RED, gps=(48.8584, 2.2945))
    # When its upload event is handled
    outcome, result = handle_event(upload("images/trip/eiffel.jpg", data), runtime)
    # Then every analysis ran once, on this image
    assert outcome == ImageStatus.COMPLETE and result is not None
    assert sorted(ai_calls(double)) == [
        "Converse", "DetectFaces", "DetectLabels", "DetectModerationLabels", "DetectText"
    ]  # fmt: skip
    assert {c["images"][0]["fingerprint"] for c in double.calls} == {fingerprint(data)}
    # and the JSON document is the versioned model, with GPS reverse-geocoded offline
    document = read_json(stack, "images/trip/eiffel.jpg")
    assert document["schema_version"] == SCHEMA_VERSION == 3 and document["status"] == "complete"
    assert document["analyses"]["gps"]["place"]["country"] == "France"
    assert document["analyses"]["location"]["input_tokens"] > 0
    assert document["image"]["width"] == 1600 and document["image"]["sha256"]
    assert ImageResult.from_dict(document) == result
    # and the .txt starts with the one-line location
    text = read_text(stack, "images/trip/eiffel.jpg")
    assert text.splitlines()[0] == result.analyses.location.description  # type: ignore[union-attr]
    assert "Labels: " in text
    # and DynamoDB finds it by key, by label (Query on the GSI) and by status
    item = record(runtime, "images/trip/eiffel.jpg")
    assert (
        item is not None
        and item["status"] == "complete"
        and item["result_key"] == "results/trip/eiffel.jpg.json"
    )
    by_label = stack.dynamodb.query(
        TableName=stack.table,
        IndexName=t.BY_LABEL.name,
        KeyConditionExpression="gsi1pk = :l",
        ExpressionAttributeValues={":l": {"S": t.label_pk("Red")}},
    )["Items"]
    assert [i["image_key"]["S"] for i in by_label] == ["images/trip/eiffel.jpg"]
    by_status = stack.dynamodb.query(
        TableName=stack.table,
        IndexName=t.BY_STATUS.name,
        KeyConditionExpression="gsi2pk = :s",
        ExpressionAttributeValues={":s": {"S": t.status_pk("complete")}},
    )["Items"]
    assert [i["image_key"]["S"] for i in by_status] == ["images/trip/eiffel.jpg"]


def test_the_cost_estimate_comes_from_recorded_usage_and_configured_prices(
    runtime: Runtime, upload: Upload
) -> None:
    runtime.settings = replace(
        runtime.settings,
        price_rekognition_image_usd=0.5,
        price_bedrock_input_mtok_usd=1e6,
        price_bedrock_output_mtok_usd=0.0,
    )
    _, result = handle_event(upload("images/a.jpg", jpeg()), runtime)
    assert result is not None
    assert result.cost.rekognition_images == 4  # labels, text, moderation, faces
    assert result.cost.estimated_usd == pytest.approx(4 * 0.5 + result.cost.input_tokens)


def test_a_duplicate_delivery_makes_no_ai_calls(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    event = upload("images/dup.jpg", jpeg())
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE
    calls = len(double.calls)
    assert handle_event(event, runtime) == (EventOutcome.DUPLICATE, None)
    assert len(double.calls) == calls


def test_identical_bytes_under_another_key_reuse_the_analysis(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    data = jpeg((800, 600), RED)
    handle_event(upload("images/original.jpg", data), runtime)
    calls = len(double.calls)
    outcome, result = handle_event(upload("images/copy of original.jpg", data), runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None
    assert len(double.calls) == calls
    assert result.reused_from == "images/original.jpg"
    assert result.cost.estimated_usd == 0
    labels = {
        label["name"] for label in read_json(stack, "images/copy of original.jpg")["analyses"]["labels"]
    }
    assert "Red" in labels
    assert "reused" in read_text(stack, "images/copy of original.jpg")
    # The reused result carries the perceptual hash too, in the document and on the record.
    original = read_json(stack, "images/original.jpg")["image"]["phash"]
    assert original and result.image.phash == original
    assert read_json(stack, "images/copy of original.jpg")["image"]["phash"] == original
    for key in ("images/original.jpg", "images/copy of original.jpg"):
        stored = record(runtime, key)
        assert stored is not None and stored["phash"] == original
        assert (stored["width"], stored["height"]) == (800, 600)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"just some text", "not_an_image"),
        (jpeg((12, 12)), "too_small"),
        (jpeg((1200, 900))[:5000], "truncated"),
    ],
    ids=["zero-bytes", "text", "12px", "truncated-jpeg"],
)
def test_bad_input_is_recorded_as_failed_with_a_reason_and_never_reaches_ai(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble, data: bytes, code: str
) -> None:
    outcome, result = handle_event(upload("images/bad.jpg", data), runtime)
    assert outcome == ImageStatus.FAILED and result is not None
    assert ai_calls(double) == []
    assert read_json(stack, "images/bad.jpg")["error"]["code"] == code
    assert read_text(stack, "images/bad.jpg").startswith("Not analysed: ")
    item = record(runtime, "images/bad.jpg")
    assert item is not None and item["status"] == "failed" and item["error_code"] == code


PARIS = (48.8584, 2.2945)


def tiny(fmt: str, gps: tuple[float, float] | None) -> bytes:
    """A 100x68 photo (under Rekognition's 80 px) in `fmt`, with GPS in its EXIF when given."""
    exif = exif_with(gps=gps).tobytes() if gps else None
    return encode(scene((100, 68), RED), fmt, **({"exif": exif} if exif else {}))


@pytest.mark.parametrize(
    ("fmt", "gps"),
    [("JPEG", PARIS), ("PNG", PARIS), ("TIFF", PARIS), ("GIF", None), ("JPEG", None)],
    ids=["jpeg-gps", "png-gps", "tiff-gps", "gif", "jpeg-no-gps"],
)
def test_a_tiny_photo_is_analysed_in_full_and_says_its_rendition_was_enlarged(
    stack: Stack,
    runtime: Runtime,
    upload: Upload,
    double: AiServicesDouble,
    fmt: str,
    gps: tuple[float, float] | None,
) -> None:
    # Given a 100x68 photo, under Rekognition's 80 px minimum (the double refuses anything smaller)
    key = f"images/tiny/photo.{fmt.lower()}"
    # When its upload is handled
    outcome, result = handle_event(upload(key, tiny(fmt, gps)), runtime)
    # Then every analysis ran and succeeded on it
    assert outcome == ImageStatus.COMPLETE and result is not None, result
    assert sorted(ai_calls(double)) == [
        "Converse", "DetectFaces", "DetectLabels", "DetectModerationLabels", "DetectText"
    ]  # fmt: skip
    rekognition_sizes = {
        (i["width"], i["height"]) for c in double.calls for i in c["images"] if c["operation"] != "Converse"
    }
    assert rekognition_sizes == {(118, 80)}
    document = read_json(stack, key)
    assert document["image"]["format"] == fmt and (
        document["image"]["width"],
        document["image"]["height"],
    ) == (100, 68)
    assert document["analyses"]["location"]["description"]
    assert "Red" in {label["name"] for label in document["analyses"]["labels"]}
    assert document["analyses"]["text"] and document["analyses"]["text"][0]["text"].startswith("FP ")
    # and its GPS place is recorded when it has one
    if gps:
        assert document["analyses"]["gps"]["place"]["country"] == "France"
    else:
        assert document["analyses"]["gps"] is None
    # and the notes say the picture was enlarged, so its answers weigh less
    assert [n for n in document["notes"] if "enlarged from 100x68" in n and "less reliable" in n], document[
        "notes"
    ]


def test_an_image_too_small_to_analyse_still_records_its_format_size_and_gps_place(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    # Given a 12x10 JPEG with GPS in Paris: too small for any analysis to mean something
    data = jpeg((12, 10), RED, gps=PARIS)
    # When its upload is handled
    outcome, result = handle_event(upload("images/pixel.jpg", data), runtime)
    # Then it is refused without any AI call
    assert outcome == ImageStatus.FAILED and result is not None and ai_calls(double) == []
    document = read_json(stack, "images/pixel.jpg")
    assert document["error"]["code"] == "too_small" and "12x10" in document["error"]["message"]
    # and what was read is recorded: format, size and the reverse-geocoded GPS place
    image = document["image"]
    assert (image["format"], image["width"], image["height"]) == ("JPEG", 12, 10)
    assert document["analyses"]["gps"]["latitude"] == pytest.approx(PARIS[0], abs=1e-5)
    assert document["analyses"]["gps"]["place"]["country"] == "France"
    assert "GPS: 48.85840, 2.29450" in read_text(stack, "images/pixel.jpg")
    item = record(runtime, "images/pixel.jpg")
    assert item is not None and item["country"] == "France" and item["error_code"] == "too_small"


def test_a_refused_image_keeps_gps_to_itself_when_gps_is_switched_off(
    stack: Stack, runtime: Runtime, upload: Upload
) -> None:
    runtime.settings = replace(runtime.settings, enable_gps=False)
    _, result = handle_event(upload("images/pixel.jpg", jpeg((12, 10), RED, gps=PARIS)), runtime)
    assert result is not None and result.error is not None and result.error.code == "too_small"
    assert result.analyses.gps is None and result.image.format == "JPEG"


def test_an_object_over_the_byte_limit_is_refused_without_download(runtime: Runtime, upload: Upload) -> None:
    runtime.settings = replace(runtime.settings, max_image_bytes=1000)
    _, result = handle_event(upload("images/huge.jpg", jpeg()), runtime)
    assert result is not None and result.error is not None and result.error.code == "too_large"


def test_one_failing_analysis_leaves_the_others_and_marks_the_image_partial(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    double.fail_next("DetectText", 1, "InvalidImageFormatException")
    outcome, result = handle_event(upload("images/p.jpg", jpeg()), runtime)
    assert outcome == ImageStatus.PARTIAL and result is not None
    outcomes = read_json(stack, "images/p.jpg")["analyses"]["outcomes"]
    assert (
        outcomes["text"]["status"] == "failed" and "InvalidImageFormatException" in outcomes["text"]["reason"]
    )
    assert outcomes["labels"]["status"] == outcomes["location"]["status"] == "ok"
    assert result.analyses.labels and result.analyses.location


def test_throttling_is_retried_by_the_client_and_then_succeeds(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    double.fail_next("Converse", 1, "ThrottlingException")
    double.fail_next("DetectLabels", 1, "ProvisionedThroughputExceededException")
    outcome, _ = handle_event(upload("images/t.jpg", jpeg()), runtime)
    assert outcome == ImageStatus.COMPLETE
    assert ai_calls(double).count("Converse") == 2


def test_throttling_that_outlasts_retries_fails_the_message_and_a_redelivery_recovers(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    event = upload("images/slow.jpg", jpeg())
    double.fail_next("Converse", 5, "ThrottlingException")
    with pytest.raises(TransientError):
        handle_event(event, runtime)
    item = record(runtime, "images/slow.jpg")
    assert (
        item is not None
        and item["status"] == ImageStatus.RETRYING
        and "ThrottlingException" in item["last_error"]
    )
    double.reset()
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE


def test_access_denied_is_a_configuration_error(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    double.fail_next("Converse", 1, "AccessDeniedException")
    with pytest.raises(ConfigurationError, match="AccessDeniedException"):
        handle_event(upload("images/denied.jpg", jpeg()), runtime)


def test_removal_deletes_results_in_s3_and_dynamodb(stack: Stack, runtime: Runtime, upload: Upload) -> None:
    handle_event(upload("images/gone.jpg", jpeg((300, 300), RED)), runtime)
    stack.s3.delete_object(Bucket=stack.bucket, Key="images/gone.jpg")
    assert handle_event(S3Event(REMOVED, stack.bucket, "images/gone.jpg"), runtime)[0] == EventOutcome.REMOVED
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/").get("Contents", [])
    assert listed == []
    items = stack.dynamodb.query(
        TableName=stack.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": t.image_pk("images/gone.jpg")}},
    )["Items"]
    assert items == []


def test_a_late_removal_event_keeps_the_results_of_a_reupload(
    stack: Stack, runtime: Runtime, upload: Upload
) -> None:
    handle_event(upload("images/back.jpg", jpeg()), runtime)
    outcome, _ = handle_event(S3Event(REMOVED, stack.bucket, "images/back.jpg"), runtime)
    assert outcome == EventOutcome.STALE_REMOVAL
    assert record(runtime, "images/back.jpg") is not None


def test_an_event_for_an_overwritten_version_is_skipped(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    old = upload("images/v.jpg", jpeg(colour=RED))
    upload("images/v.jpg", jpeg())
    assert handle_event(old, runtime) == (EventOutcome.SUPERSEDED, None)
    assert ai_calls(double) == []


def test_a_new_version_of_an_image_is_analysed_again(runtime: Runtime, upload: Upload) -> None:
    handle_event(upload("images/edit.jpg", jpeg(colour=RED)), runtime)
    _, result = handle_event(upload("images/edit.jpg", jpeg((640, 480), (30, 200, 40))), runtime)
    assert result is not None and "Green" in {label.name for label in result.analyses.labels}


def test_force_reprocesses_a_finished_image(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    event = upload("images/f.jpg", jpeg())
    handle_event(event, runtime)
    double.reset()
    outcome, _ = handle_event(replace(event, force=True), runtime)
    assert outcome == ImageStatus.COMPLETE and "Converse" in ai_calls(double)


def test_a_delivery_during_analysis_is_retried_later_not_analysed_twice(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    # Given one invocation is in the middle of analysing an image (it holds the claim)
    double.configure(latency_bedrock=4.0)  # wide enough that a loaded machine still overlaps
    event = upload("images/race.jpg", jpeg())
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(handle_event, event, runtime)
        while (record(runtime, "images/race.jpg") or {}).get("status") != ImageStatus.PROCESSING:
            time.sleep(0.02)  # claimed: the AI calls (4 s) are under way
        # When a duplicate delivery of the same version arrives
        # Then it is sent back to the queue instead of being analysed again
        with pytest.raises(TransientError, match="being analysed by another invocation"):
            handle_event(event, runtime)
        assert first.result()[0] == ImageStatus.COMPLETE
    # and the redelivery, later, is recognised as a duplicate
    assert handle_event(event, runtime) == (EventOutcome.DUPLICATE, None)
    assert ai_calls(double).count("Converse") == 1


def test_a_claim_whose_lease_expired_is_taken_over(runtime: Runtime, upload: Upload) -> None:
    # Given an invocation claimed the image and died (its lease is in the past)
    event = upload("images/crashed.jpg", jpeg())
    head_version = event.version_id or ""
    runtime.claims.claim(event.key, head_version, "dead-token", "2026-01-01T00:00:00Z", 0, 60, force=False)
    # When the message is redelivered, the new invocation takes over and finishes
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE


def test_keys_outside_the_input_prefix_and_results_are_ignored(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    for key in ("results/a.jpg.json", "other/a.jpg", "images/"):
        assert handle_event(S3Event(CREATED, stack.bucket, key), runtime) == (EventOutcome.IGNORED, None)
    assert ai_calls(double) == []


def test_moderation_gate_skips_location_for_flagged_images(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    runtime.settings = replace(runtime.settings, skip_location_if_flagged=True)
    _, result = handle_event(upload("images/red.jpg", jpeg(colour=(230, 10, 10))), runtime)
    assert result is not None and result.flagged
    assert result.analyses.outcomes["location"].reason == "flagged by moderation"
    assert "Converse" not in ai_calls(double)


def test_switched_off_analyses_are_recorded_as_skipped(
    runtime: Runtime, upload: Upload, double: AiServicesDouble
) -> None:
    runtime.settings = replace(runtime.settings, enable_location=False, enable_text=False)
    _, result = handle_event(upload("images/s.jpg", jpeg()), runtime)
    assert result is not None and result.status == ImageStatus.COMPLETE
    assert result.analyses.outcomes["location"].status == "skipped"
    assert sorted(ai_calls(double)) == ["DetectFaces", "DetectLabels", "DetectModerationLabels"]
