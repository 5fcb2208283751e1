"""Caption, alt text, keywords, location clues and location_conflict through the pipeline: moto's S3 and
DynamoDB and the simulated AI services (imgpipe/simulated, a test double whose answers are computed from
the pixels; a test configures it to name a place, since it recognises none)."""

from __future__ import annotations

import json
from typing import Any

from image_analysis.adapters import bedrock
from image_analysis.domain import table as t
from image_analysis.domain.intake import CREATED, S3Event
from image_analysis.domain.models import ImageResult
from image_analysis.domain.states import ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime

from imgpipe.simulated.ai_answers import dominant_colour, fingerprint
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import RED, jpeg
from tests.support import LAYOUT, Stack

PARIS_GPS = (48.8584, 2.2945)


def analysed(stack: Stack, runtime: Runtime, key: str, data: bytes) -> ImageResult:
    response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
    event = S3Event(
        CREATED, stack.bucket, key, response.get("VersionId"), response["ETag"].strip('"'), len(data)
    )
    outcome, result = handle_event(event, runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None
    return result


def read_json(stack: Stack, image_key: str) -> dict[str, Any]:
    body = stack.s3.get_object(Bucket=stack.bucket, Key=LAYOUT.json_key(image_key))["Body"].read()
    return dict(json.loads(body))


def read_text(stack: Stack, image_key: str) -> str:
    body = stack.s3.get_object(Bucket=stack.bucket, Key=LAYOUT.text_key(image_key))["Body"].read()
    return str(body.decode())


def record(runtime: Runtime, image_key: str) -> dict[str, Any] | None:
    return runtime.claims.get(image_key)


def conflict_index(stack: Stack) -> list[str]:
    items = stack.dynamodb.query(
        TableName=stack.table,
        IndexName=t.LOCATION_CONFLICT.name,
        KeyConditionExpression=f"{t.LOCATION_CONFLICT.partition_key} = :p",
        ExpressionAttributeValues={":p": {"S": t.LOCATION_CONFLICT_PK}},
    )["Items"]
    return [item["image_key"]["S"] for item in items]


def test_the_caption_alt_text_keywords_and_clues_reach_json_text_and_record(
    stack: Stack, runtime: Runtime
) -> None:
    data = jpeg((1600, 1200), RED, gps=PARIS_GPS)
    result = analysed(stack, runtime, "images/caption/red.jpg", data)
    colour, seen = dominant_colour(data), fingerprint(data)
    # The double answers from the picture it received: its colour and fingerprint, its label names
    document = read_json(stack, "images/caption/red.jpg")
    caption = document["analyses"]["caption"]
    assert caption["text"] == caption["alt_text"] == f"{colour} scene, fingerprint {seen}"
    assert (
        {colour.lower(), "photograph"} <= set(caption["keywords"]) <= {colour.lower(), "photograph", "object"}
    )
    assert document["analyses"]["location"]["evidence"] == [
        f"{colour.lower()} is the dominant colour",
        f"fingerprint {seen}",
    ]
    # and it names no place it cannot know, so there is nothing to disagree with the GPS (France)
    assert document["analyses"]["location"]["country"] is None
    assert document["analyses"]["location_conflict"] is None
    assert ImageResult.from_dict(document) == result
    text = read_text(stack, "images/caption/red.jpg").splitlines()
    assert f"Caption: {caption['text']}" in text
    assert "Keywords: " + ", ".join(caption["keywords"]) in text
    assert not any(line.startswith("Location conflict") for line in text)
    item = record(runtime, "images/caption/red.jpg")
    assert item is not None
    assert (item["caption"], item["alt_text"], item["keywords"]) == (
        caption["text"],
        caption["alt_text"],
        caption["keywords"],
    )
    assert item["location_conflict"] is False and item["country"] == "France"  # from the GPS
    assert "images/caption/red.jpg" not in conflict_index(stack)


def test_a_model_that_places_the_photo_in_another_country_than_its_gps_is_flagged(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    double.configure(tool_answers={"city": "Rome", "country": "Italy"})
    result = analysed(stack, runtime, "images/caption/elsewhere.jpg", jpeg(gps=PARIS_GPS))
    reason = "country: GPS says France, the model says Italy"
    document = read_json(stack, "images/caption/elsewhere.jpg")
    assert document["analyses"]["location_conflict"] == {
        "field": "country",
        "gps": "France",
        "model": "Italy",
        "reason": reason,
    }
    assert result.has_location_conflict
    assert f"Location conflict: {reason}" in read_text(stack, "images/caption/elsewhere.jpg").splitlines()
    item = record(runtime, "images/caption/elsewhere.jpg")
    assert item is not None and item["location_conflict"] is True
    assert item["location_conflict_reason"] == reason and item["country"] == "Italy"
    assert conflict_index(stack) == ["images/caption/elsewhere.jpg"]


def test_the_same_country_spelled_otherwise_and_another_city_is_a_city_conflict(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    double.configure(tool_answers={"city": "Lyon", "country": "FRANCE"})
    analysed(stack, runtime, "images/caption/lyon.jpg", jpeg(gps=PARIS_GPS))
    conflict = read_json(stack, "images/caption/lyon.jpg")["analyses"]["location_conflict"]
    assert (conflict["field"], conflict["gps"], conflict["model"]) == ("city", "Paris", "Lyon")
    double.configure(tool_answers={"city": "paris", "country": "FR"})
    analysed(stack, runtime, "images/caption/paris.jpg", jpeg(colour=RED, gps=PARIS_GPS))  # other bytes
    assert read_json(stack, "images/caption/paris.jpg")["analyses"]["location_conflict"] is None
    assert conflict_index(stack) == ["images/caption/lyon.jpg"]


def _one_clean_line(text: str, limit: int) -> None:
    assert 0 < len(text) <= limit and text == " ".join(text.split()) and text.isprintable(), repr(text)


def test_a_hostile_answer_is_bounded_in_every_new_field(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    """The double's hostile mode: 5,000-character multi-line captions and alt text, lists of 58 items with
    duplicates, control characters, an instruction, huge and non-string items."""
    double.configure(oversize_output=True)
    analysed(stack, runtime, "images/caption/hostile.jpg", jpeg(gps=PARIS_GPS))
    (converse,) = [c for c in double.calls if c["operation"] == "Converse"]
    assert converse["outcome"] == "OK"
    document = read_json(stack, "images/caption/hostile.jpg")
    caption, location = document["analyses"]["caption"], document["analyses"]["location"]
    _one_clean_line(caption["text"], bedrock.MAX_CAPTION)
    _one_clean_line(caption["alt_text"], bedrock.MAX_ALT_TEXT)
    assert not caption["text"].lower().startswith("this is")
    keywords, clues = caption["keywords"], location["evidence"]
    assert len(keywords) == bedrock.MAX_KEYWORDS and len(set(keywords)) == len(keywords)
    assert len(clues) == bedrock.MAX_EVIDENCE and len({c.casefold() for c in clues}) == len(clues)
    for keyword in keywords:
        _one_clean_line(keyword, bedrock.MAX_KEYWORD)
        assert keyword == keyword.lower()
    for clue in clues:
        _one_clean_line(clue, bedrock.MAX_CLUE)
    assert "unexpected_field" not in json.dumps(document)
    item: dict[str, Any] | None = record(runtime, "images/caption/hostile.jpg")
    assert item is not None and item["keywords"] == keywords and item["alt_text"] == caption["alt_text"]
    text = read_text(stack, "images/caption/hostile.jpg")
    assert "\x1b" not in text and "\x00" not in text
    assert all(len(line) <= 1000 for line in text.splitlines())
