"""Behaviour of the Bedrock/Rekognition test double, exercised through real boto3 clients."""

from __future__ import annotations

import io
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image, ImageDraw

from imgpipe.simulated.ai_answers import (
    analyse,
    detect_labels,
    dominant_colour,
    fingerprint,
    fingerprints_match,
)
from imgpipe.simulated.ai_services import AiServicesDouble, DoubleConfig
from tests.support import PROJECT_ROOT

PROFILE_ID = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
# Not {"max_attempts": 1}: in a Config that counts RETRIES (botocore adds 1), so it would retry once.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
TOOL = {
    "name": "record_analysis",
    "inputSchema": {
        "json": {
            "type": "object",
            "properties": {
                "description": {"type": "string", "maxLength": 2000},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "count": {"type": "integer", "minimum": 1, "maximum": 9},
                "mood": {"type": "string", "enum": ["calm", "busy"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "is_photo": {"type": "boolean"},
            },
            "required": ["description", "confidence", "mood", "tags"],
        }
    },
}


# --------------------------------------------------------------------------- images


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def scene(
    size: tuple[int, int] = (640, 480),
    background: tuple[int, int, int] = (30, 60, 200),
    shape: tuple[int, int, int] = (230, 200, 40),
    box: tuple[float, float, float, float] = (0.25, 0.2, 0.75, 0.6),
) -> Image.Image:
    """A smooth synthetic picture: a horizontal gradient with one solid rectangle on it."""
    width, height = size
    gradient = Image.linear_gradient("L").rotate(90).resize(size)
    darker = Image.new("RGB", size, tuple(c // 2 for c in background))
    image = Image.composite(Image.new("RGB", size, background), darker, gradient)
    left, top, right, bottom = box
    ImageDraw.Draw(image).rectangle(
        (left * width, top * height, right * width - 1, bottom * height - 1), fill=shape
    )
    return image


BLUE_SCENE = encode(scene(), "PNG")
GREEN_SCENE = encode(scene(background=(40, 170, 60), shape=(240, 240, 240), box=(0.1, 0.5, 0.4, 0.9)), "PNG")
RED_SCENE = encode(Image.new("RGB", (200, 200), (220, 20, 25)), "JPEG", quality=90)


def padded_jpeg(total: int) -> bytes:
    # JPEG decoders ignore bytes after the end-of-image marker: a valid image of an exact byte size.
    data = encode(scene((320, 240)), "JPEG")
    return data + b"\0" * (total - len(data))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def double() -> Iterator[AiServicesDouble]:
    with AiServicesDouble(DoubleConfig(seed=7)) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_double(double: AiServicesDouble) -> None:
    double.configure(**vars(DoubleConfig(seed=7)))
    double.reset()


def make_client(service: str, endpoint_url: str | None, config: Config = NO_RETRY) -> Any:
    make: Any = boto3.client  # Any, not the boto3-stubs types: the tests index responses freely
    return make(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture(scope="module")
def rekognition(double: AiServicesDouble) -> Any:
    return make_client("rekognition", double.endpoint_url)


@pytest.fixture(scope="module")
def bedrock(double: AiServicesDouble) -> Any:
    return make_client("bedrock-runtime", double.endpoint_url)


def user_message(*images: tuple[str, bytes], text: str = "Describe the image.") -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"text": text}]
    content += [{"image": {"format": fmt, "source": {"bytes": data}}} for fmt, data in images]
    return {"role": "user", "content": content}


def converse(bedrock: Any, *images: tuple[str, bytes], **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = bedrock.converse(modelId=PROFILE_ID, messages=[user_message(*images)], **extra)
    return result


def forced_tool(tool: dict[str, Any] = TOOL) -> dict[str, Any]:
    return {"tools": [{"toolSpec": tool}], "toolChoice": {"tool": {"name": tool["name"]}}}


def client_error(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response: Any = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def detected_line(rekognition: Any, data: bytes) -> str:
    detections = rekognition.detect_text(Image={"Bytes": data})["TextDetections"]
    return str(next(d["DetectedText"] for d in detections if d["Type"] == "LINE"))


# --------------------------------------------------------------------------- answers follow the image


def test_different_images_get_different_answers(rekognition: Any, bedrock: Any) -> None:
    assert fingerprint(BLUE_SCENE) != fingerprint(GREEN_SCENE)
    assert detected_line(rekognition, BLUE_SCENE) == f"FP {fingerprint(BLUE_SCENE)}"
    assert detected_line(rekognition, GREEN_SCENE) == f"FP {fingerprint(GREEN_SCENE)}"
    colours = [rekognition.detect_labels(Image={"Bytes": d})["Labels"] for d in (BLUE_SCENE, GREEN_SCENE)]
    names = [{label["Name"] for label in labels} for labels in colours]
    assert dominant_colour(BLUE_SCENE) in names[0]
    assert dominant_colour(GREEN_SCENE) in names[1]
    assert dominant_colour(BLUE_SCENE) != dominant_colour(GREEN_SCENE)
    texts = [
        converse(bedrock, ("png", d))["output"]["message"]["content"][0]["text"]
        for d in (BLUE_SCENE, GREEN_SCENE)
    ]
    assert fingerprint(BLUE_SCENE) in texts[0]
    assert fingerprint(GREEN_SCENE) in texts[1]


@pytest.mark.parametrize(("scale", "quality"), [(0.5, 85), (0.25, 70), (1.6, 90)])
def test_resized_jpeg_rendition_keeps_the_original_fingerprint(
    rekognition: Any, scale: float, quality: int
) -> None:
    original = scene()
    rendition = original.resize((round(640 * scale), round(480 * scale)), Image.Resampling.LANCZOS)
    data = encode(rendition, "JPEG", quality=quality)
    assert fingerprint(data) == fingerprint(BLUE_SCENE)
    assert fingerprints_match(fingerprint(data), fingerprint(BLUE_SCENE))
    assert detected_line(rekognition, data) == f"FP {fingerprint(BLUE_SCENE)}"


def test_fingerprints_match_tolerates_a_few_bits_only() -> None:
    assert fingerprints_match("ffffffffffffffff", "fffffffffffffff0", max_distance=4)
    assert not fingerprints_match("ffffffffffffffff", "ffffffffffffff00", max_distance=4)


# --------------------------------------------------------------------------- Rekognition shapes


def test_detect_labels_shape_and_object_box(rekognition: Any) -> None:
    response = rekognition.detect_labels(Image={"Bytes": BLUE_SCENE})
    assert response["LabelModelVersion"]
    labels = {label["Name"]: label for label in response["Labels"]}
    colour = labels[dominant_colour(BLUE_SCENE)]
    assert colour["Parents"] == [{"Name": "Colour"}]
    assert colour["Categories"] == [{"Name": "Colors and Visual Composition"}]
    assert "Photograph" in labels
    box = labels["Object"]["Instances"][0]["BoundingBox"]
    assert box == pytest.approx({"Left": 0.25, "Top": 0.2, "Width": 0.5, "Height": 0.4}, abs=0.02)
    confidences = [label["Confidence"] for label in response["Labels"]]
    assert confidences == sorted(confidences, reverse=True)


def test_detect_labels_honours_max_labels_and_min_confidence(rekognition: Any) -> None:
    assert len(rekognition.detect_labels(Image={"Bytes": BLUE_SCENE}, MaxLabels=1)["Labels"]) == 1
    strict = rekognition.detect_labels(Image={"Bytes": BLUE_SCENE}, MinConfidence=81)["Labels"]
    assert "Photograph" not in {label["Name"] for label in strict}
    assert client_error(lambda: rekognition.detect_labels(Image={"Bytes": BLUE_SCENE}, MinConfidence=101))[
        0
    ] == ("InvalidParameterException")


def test_detect_text_shape(rekognition: Any) -> None:
    detections = rekognition.detect_text(Image={"Bytes": BLUE_SCENE})["TextDetections"]
    line, *words = detections
    assert line["Type"] == "LINE"
    assert "ParentId" not in line
    assert [w["DetectedText"] for w in words] == ["FP", fingerprint(BLUE_SCENE)]
    assert all(w["Type"] == "WORD" and w["ParentId"] == line["Id"] for w in words)
    assert len({d["Id"] for d in detections}) == 3
    for detection in detections:
        assert set(detection["Geometry"]["BoundingBox"]) == {"Width", "Height", "Left", "Top"}
        assert len(detection["Geometry"]["Polygon"]) == 4


def test_moderation_flags_saturated_red_only(rekognition: Any) -> None:
    flagged = rekognition.detect_moderation_labels(Image={"Bytes": RED_SCENE})
    assert flagged["ModerationModelVersion"]
    by_name = {label["Name"]: label for label in flagged["ModerationLabels"]}
    assert by_name["Graphic Violence"]["ParentName"] == "Violence"
    assert by_name["Graphic Violence"]["TaxonomyLevel"] == 2
    assert by_name["Violence"]["ParentName"] == ""
    assert rekognition.detect_moderation_labels(Image={"Bytes": BLUE_SCENE})["ModerationLabels"] == []
    strict = rekognition.detect_moderation_labels(Image={"Bytes": RED_SCENE}, MinConfidence=95)
    assert strict["ModerationLabels"] == []


def test_png_with_alpha_is_accepted_by_rekognition(rekognition: Any) -> None:
    rgba = scene().convert("RGBA")
    rgba.putalpha(200)
    labels = rekognition.detect_labels(Image={"Bytes": encode(rgba, "PNG")})["Labels"]
    assert labels


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_gif_and_webp_rejected_by_rekognition_but_accepted_by_bedrock(
    rekognition: Any, bedrock: Any, fmt: str
) -> None:
    data = encode(scene(), fmt)
    assert client_error(lambda: rekognition.detect_labels(Image={"Bytes": data}))[:2] == (
        "InvalidImageFormatException",
        400,
    )
    answer = converse(bedrock, (fmt.lower(), data))["output"]["message"]["content"][0]["text"]
    assert fingerprints_match(answer.rsplit(" ", 1)[-1].rstrip("."), fingerprint(BLUE_SCENE))


def test_rekognition_byte_limit(rekognition: Any) -> None:
    assert rekognition.detect_text(Image={"Bytes": padded_jpeg(5_242_880)})["TextDetections"]
    code, status, _ = client_error(lambda: rekognition.detect_text(Image={"Bytes": padded_jpeg(5_242_881)}))
    assert (code, status) == ("ImageTooLargeException", 400)


def test_rekognition_pixel_limits(rekognition: Any) -> None:
    assert rekognition.detect_labels(Image={"Bytes": encode(scene((80, 80)), "PNG")})["Labels"]
    tiny = encode(scene((79, 79)), "PNG")
    assert (
        client_error(lambda: rekognition.detect_labels(Image={"Bytes": tiny}))[0]
        == "InvalidParameterException"
    )
    wide = encode(Image.new("RGB", (10_001, 80), (90, 90, 90)), "PNG")
    assert (
        client_error(lambda: rekognition.detect_labels(Image={"Bytes": wide}))[0] == "ImageTooLargeException"
    )
    assert rekognition.detect_text(Image={"Bytes": wide})["TextDetections"]  # DetectText has no side maximum


def test_rekognition_rejects_s3_objects_and_undecodable_bytes(rekognition: Any) -> None:
    code, _, message = client_error(
        lambda: rekognition.detect_labels(Image={"S3Object": {"Bucket": "bucket", "Name": "key"}})
    )
    assert code == "InvalidParameterException"
    assert "S3Object" in message
    broken = BLUE_SCENE[:200]  # PNG magic, truncated body
    assert (
        client_error(lambda: rekognition.detect_labels(Image={"Bytes": broken}))[0]
        == "InvalidImageFormatException"
    )


def test_unemulated_operation_is_reported_as_unknown(rekognition: Any) -> None:
    assert (
        client_error(lambda: rekognition.recognize_celebrities(Image={"Bytes": BLUE_SCENE}))[0]
        == "UnknownOperationException"
    )


# --------------------------------------------------------------------------- Bedrock Converse


def test_converse_text_answer_shape_and_usage(bedrock: Any) -> None:
    response = converse(bedrock, ("png", BLUE_SCENE))
    assert response["stopReason"] == "end_turn"
    message = response["output"]["message"]
    assert message["role"] == "assistant"
    assert fingerprint(BLUE_SCENE) in message["content"][0]["text"]
    usage = response["usage"]
    assert usage["inputTokens"] == math.ceil(640 * 480 / 750) + len("Describe the image.") // 4
    assert usage["outputTokens"] == len(json.dumps(response["output"])) // 4
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["metrics"]["latencyMs"] == 0


def test_forced_tool_use_fills_the_schema(bedrock: Any) -> None:
    response = converse(bedrock, ("png", BLUE_SCENE), toolConfig=forced_tool())
    assert response["stopReason"] == "tool_use"
    (block,) = response["output"]["message"]["content"]
    tool_use = block["toolUse"]
    assert tool_use["name"] == "record_analysis"
    assert tool_use["toolUseId"]
    given = tool_use["input"]
    schema = TOOL["inputSchema"]["json"]  # type: ignore[index]
    assert set(schema["required"]) <= set(given) <= set(schema["properties"])
    assert (
        given["description"] == f"{dominant_colour(BLUE_SCENE)} scene, fingerprint {fingerprint(BLUE_SCENE)}"
    )
    assert 0 <= given["confidence"] <= 1
    assert isinstance(given["count"], int)
    assert 1 <= given["count"] <= 9
    assert (given["mood"], given["is_photo"]) == ("calm", False)
    # a keyword-like list of strings: the names DetectLabels gives the same image, lower-cased
    labels = detect_labels(analyse(BLUE_SCENE), None, 0.0)["Labels"]
    assert (
        given["tags"] == [label["Name"].lower() for label in labels]
        and dominant_colour(BLUE_SCENE).lower() in given["tags"]
    )


def test_lists_of_strings_are_filled_from_the_image_within_max_items(bedrock: Any) -> None:
    strings = {"type": "array", "items": {"type": "string"}}
    schema = {
        "type": "object",
        "properties": {
            "keywords": strings | {"maxItems": 2},
            "evidence": strings,
            "place": {"type": "string", "description": "A landmark; empty if unknown."},
        },
    }
    tool = {"name": "lists", "inputSchema": {"json": schema}}
    response = converse(bedrock, ("png", BLUE_SCENE), toolConfig=forced_tool(tool))
    given = response["output"]["message"]["content"][0]["toolUse"]["input"]
    assert len(given["keywords"]) == 2
    assert given["evidence"] == [
        f"{dominant_colour(BLUE_SCENE).lower()} is the dominant colour",
        f"fingerprint {fingerprint(BLUE_SCENE)}",
    ]
    assert given["place"] == ""  # the double recognises no place, and the schema allows saying so


def test_tool_answers_given_by_a_test_replace_the_filled_fields(
    double: AiServicesDouble, bedrock: Any
) -> None:
    double.configure(tool_answers={"mood": "busy", "country": "Italy"})
    response = converse(bedrock, ("png", BLUE_SCENE), toolConfig=forced_tool())
    given = response["output"]["message"]["content"][0]["toolUse"]["input"]
    assert (given["mood"], given["country"]) == ("busy", "Italy")
    assert given["description"].endswith(fingerprint(BLUE_SCENE))


def test_forced_tool_use_follows_refs_and_optional_fields(bedrock: Any) -> None:
    schema = {  # the shape pydantic's model_json_schema() produces
        "type": "object",
        "$defs": {
            "Box": {"type": "object", "properties": {"left": {"type": "number"}}, "required": ["left"]}
        },
        "properties": {
            "box": {"$ref": "#/$defs/Box"},
            "caption": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["box"],
    }
    tool = {"name": "nested", "inputSchema": {"json": schema}}
    response = converse(bedrock, ("png", BLUE_SCENE), toolConfig=forced_tool(tool))
    given = response["output"]["message"]["content"][0]["toolUse"]["input"]
    assert given["box"] == {"left": 0.5}
    assert given["caption"].endswith(fingerprint(BLUE_SCENE))


def test_oversize_output_makes_tool_input_hostile(double: AiServicesDouble, bedrock: Any) -> None:
    double.configure(oversize_output=True)
    response = converse(bedrock, ("png", BLUE_SCENE), toolConfig=forced_tool())
    given = response["output"]["message"]["content"][0]["toolUse"]["input"]
    description = given["description"]
    assert len(description) == 5000
    assert description.startswith("This is")
    assert "\n" in description
    assert set(given) - set(TOOL["inputSchema"]["json"]["properties"])  # type: ignore[index]
    assert not 0 <= given["confidence"] <= 1
    tags = given["tags"]  # a list five times too long, with what a list should never carry
    assert len(tags) > 50 and tags[1] == tags[0].upper() and None in tags and 42 in tags
    assert any("\x1b" in t for t in tags if isinstance(t, str))
    assert any("IGNORE PREVIOUS INSTRUCTIONS" in t for t in tags if isinstance(t, str))


def test_inference_profile_id_reaches_the_double(double: AiServicesDouble, bedrock: Any) -> None:
    converse(bedrock, ("png", BLUE_SCENE))
    assert double.calls[-1]["model_id"] == PROFILE_ID


def test_declared_format_must_match_the_bytes(bedrock: Any) -> None:
    code, status, message = client_error(lambda: converse(bedrock, ("jpeg", BLUE_SCENE)))
    assert (code, status) == ("ValidationException", 400)
    assert "image format mismatch" in message


def test_bedrock_image_limits(bedrock: Any) -> None:
    too_many = [("png", BLUE_SCENE)] * 21
    assert client_error(lambda: converse(bedrock, *too_many))[0] == "ValidationException"
    wide = encode(Image.new("RGB", (8001, 10), (1, 2, 3)), "PNG")
    assert client_error(lambda: converse(bedrock, ("png", wide)))[0] == "ValidationException"
    heavy = padded_jpeg(3_932_161)
    assert "3.75 MB" in client_error(lambda: converse(bedrock, ("jpeg", heavy)))[2]
    assert converse(bedrock, ("jpeg", padded_jpeg(3_932_160)))["stopReason"] == "end_turn"


def test_bedrock_request_rules(double: AiServicesDouble, bedrock: Any) -> None:
    assistant_image = {
        "role": "assistant",
        "content": [{"image": {"format": "png", "source": {"bytes": BLUE_SCENE}}}],
    }
    messages = [user_message(), assistant_image, user_message()]
    assert (
        client_error(lambda: bedrock.converse(modelId=PROFILE_ID, messages=messages))[0]
        == "ValidationException"
    )
    hot = {"temperature": 1.5}
    assert client_error(lambda: converse(bedrock, inferenceConfig=hot))[0] == "ValidationException"
    unchecked_config = NO_RETRY.merge(Config(parameter_validation=False))
    unchecked = make_client("bedrock-runtime", double.endpoint_url, unchecked_config)
    assert (
        client_error(lambda: converse(unchecked, inferenceConfig={"maxTokens": 0}))[0]
        == "ValidationException"
    )


# --------------------------------------------------------------------------- faults


def test_throttle_rate_one_throttles_both_services(
    double: AiServicesDouble, rekognition: Any, bedrock: Any
) -> None:
    double.configure(throttle_rate=1.0)
    assert client_error(lambda: converse(bedrock, ("png", BLUE_SCENE)))[:2] == ("ThrottlingException", 429)
    code, status, _ = client_error(lambda: rekognition.detect_labels(Image={"Bytes": BLUE_SCENE}))
    assert (code, status) == ("ThrottlingException", 500)  # Rekognition documents its throttle as a 500


def test_error_rate_one_gives_5xx(double: AiServicesDouble, rekognition: Any, bedrock: Any) -> None:
    double.configure(error_rate=1.0)
    code, status, _ = client_error(lambda: converse(bedrock, ("png", BLUE_SCENE)))
    assert code in ("InternalServerException", "ServiceUnavailableException")
    assert status >= 500
    assert client_error(lambda: rekognition.detect_text(Image={"Bytes": BLUE_SCENE}))[:2] == (
        "InternalServerError",
        500,
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ValidationException", 400),
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("InternalServerException", 500),
        ("ServiceUnavailableException", 503),
        ("ModelTimeoutException", 408),
    ],
)
def test_bedrock_error_codes_parse_as_modelled_exceptions(
    double: AiServicesDouble, bedrock: Any, code: str, status: int
) -> None:
    double.fail_next("Converse", 1, code)
    with pytest.raises(getattr(bedrock.exceptions, code)) as caught:
        converse(bedrock, ("png", BLUE_SCENE))
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 500),
        ("ProvisionedThroughputExceededException", 400),
        ("InternalServerError", 500),
        ("InvalidImageFormatException", 400),
        ("ImageTooLargeException", 400),
        ("InvalidParameterException", 400),
        ("AccessDeniedException", 400),
    ],
)
def test_rekognition_error_codes_parse_as_modelled_exceptions(
    double: AiServicesDouble, rekognition: Any, code: str, status: int
) -> None:
    double.fail_next("DetectModerationLabels", 1, code)
    with pytest.raises(getattr(rekognition.exceptions, code)) as caught:
        rekognition.detect_moderation_labels(Image={"Bytes": BLUE_SCENE})
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_fail_next_fails_exactly_n_calls_of_that_operation(
    double: AiServicesDouble, rekognition: Any
) -> None:
    double.fail_next("DetectText", 2, "ProvisionedThroughputExceededException")
    assert rekognition.detect_labels(Image={"Bytes": BLUE_SCENE})["Labels"]  # other operations unaffected
    for _ in range(2):
        assert (
            client_error(lambda: detected_line(rekognition, BLUE_SCENE))[0]
            == "ProvisionedThroughputExceededException"
        )
    assert detected_line(rekognition, BLUE_SCENE).startswith("FP ")
    with pytest.raises(ValueError, match="not an error of rekognition"):
        double.fail_next("DetectText", 1, "ModelTimeoutException")  # not a Rekognition error


def test_latency_is_applied(double: AiServicesDouble, rekognition: Any, bedrock: Any) -> None:
    double.configure(latency_bedrock=0.3, latency_rekognition=0.2)
    started = time.monotonic()
    response = converse(bedrock, ("png", BLUE_SCENE))
    assert time.monotonic() - started >= 0.3
    assert response["metrics"]["latencyMs"] == 300
    started = time.monotonic()
    rekognition.detect_text(Image={"Bytes": BLUE_SCENE})
    assert time.monotonic() - started >= 0.2


# --------------------------------------------------------------------------- call log, control API, wiring


def test_call_log_records_images_and_outcomes(
    double: AiServicesDouble, rekognition: Any, bedrock: Any
) -> None:
    rekognition.detect_labels(Image={"Bytes": GREEN_SCENE})
    client_error(lambda: converse(bedrock, ("jpeg", BLUE_SCENE)))
    ok, mismatch = double.calls
    assert (ok["operation"], ok["outcome"], ok["status"]) == ("DetectLabels", "OK", 200)
    assert ok["images"] == [
        {
            "fingerprint": fingerprint(GREEN_SCENE),
            "declared_format": None,
            "format": "png",
            "bytes": len(GREEN_SCENE),
            "width": 640,
            "height": 480,
        }
    ]
    assert (mismatch["operation"], mismatch["outcome"], mismatch["model_id"]) == (
        "Converse",
        "ValidationException",
        PROFILE_ID,
    )
    assert (mismatch["images"][0]["declared_format"], mismatch["images"][0]["format"]) == ("jpeg", "png")
    with urllib.request.urlopen(f"{double.endpoint_url}/_double/calls") as reply:
        assert json.load(reply) == double.calls
    double.reset()
    assert double.calls == []


def test_control_api_over_http(double: AiServicesDouble, rekognition: Any) -> None:
    request = urllib.request.Request(
        f"{double.endpoint_url}/_double/config", data=json.dumps({"throttle_rate": 1}).encode(), method="POST"
    )
    with urllib.request.urlopen(request) as reply:
        assert json.load(reply)["throttle_rate"] == 1
    assert client_error(lambda: detected_line(rekognition, BLUE_SCENE))[0] == "ThrottlingException"


def test_control_paths_are_not_reachable_through_model_ids(double: AiServicesDouble, bedrock: Any) -> None:
    converse(bedrock, ("png", BLUE_SCENE))
    bedrock.converse(modelId="../../_double/reset", messages=[user_message()])
    assert len(double.calls) == 2
    assert double.calls[-1]["model_id"] == "../../_double/reset"


def test_standard_endpoint_env_vars_route_boto3(
    double: AiServicesDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in double.env().items():
        monkeypatch.setenv(name, value)
    rekognition = make_client("rekognition", endpoint_url=None)  # no endpoint_url: the env vars decide
    assert rekognition.detect_labels(Image={"Bytes": BLUE_SCENE})["Labels"]
    bedrock = make_client("bedrock-runtime", endpoint_url=None)
    assert converse(bedrock, ("png", BLUE_SCENE))["stopReason"] == "end_turn"


def test_subprocess_mode_prints_url_and_serves() -> None:
    command = [sys.executable, "-m", "imgpipe.simulated.ai_services", "--port", "0", "--seed", "1"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 15)
            assert ready, "the double did not print its URL"
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            client = make_client("rekognition", url)
            assert detected_line(client, BLUE_SCENE) == f"FP {fingerprint(BLUE_SCENE)}"
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
