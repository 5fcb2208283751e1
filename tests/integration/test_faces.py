"""Face detection through the whole pipeline: moto's S3 and DynamoDB and the AI double's DetectFaces
(faces are skin-coloured blobs there: imgpipe/simulated/faces.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from image_analysis.domain.intake import CREATED, S3Event
from image_analysis.domain.states import ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import portrait
from tests.support import LAYOUT, Stack

TWO_FACES = [(0.1, 0.2, 0.2, 0.35), (0.6, 0.3, 0.15, 0.25)]


def upload(stack: Stack, key: str, data: bytes) -> S3Event:
    response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
    return S3Event(
        CREATED, stack.bucket, key, response.get("VersionId"), response["ETag"].strip('"'), len(data)
    )


def stored(stack: Stack, key: str) -> tuple[dict[str, Any], str]:
    def body(result_key: str) -> str:
        return str(stack.s3.get_object(Bucket=stack.bucket, Key=result_key)["Body"].read().decode())

    return json.loads(body(LAYOUT.json_key(key))), body(LAYOUT.text_key(key))


def test_faces_are_found_with_their_attributes_counted_and_stored_without_biometrics(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    outcome, result = handle_event(upload(stack, "images/people/two.jpg", portrait(TWO_FACES)), runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None
    faces = result.analyses.faces
    assert len(faces) == 2 and result.analyses.outcomes["faces"].status == "ok"
    assert faces[0].box.left == pytest.approx(0.1, abs=0.02)  # the largest first, where it was drawn
    assert faces[0].box.width == pytest.approx(0.2, abs=0.02)
    assert all(f.smile and f.eyes_open and f.age_low is not None for f in faces)
    assert [e.type for e in faces[0].emotions] == ["HAPPY"]  # the others are under 50 %
    document, text = stored(stack, "images/people/two.jpg")
    assert set(document["analyses"]["faces"][0]) == {
        "box",
        "confidence",
        "age_low",
        "age_high",
        "emotions",
        "smile",
        "eyes_open",
        "eyeglasses",
        "sunglasses",
        "brightness",
        "sharpness",
    }  # fmt: skip  (no landmarks, pose or face vectors)
    assert "Faces: 2" in text and "smiling" in text
    assert runtime.claims.get("images/people/two.jpg")["face_count"] == 2  # type: ignore[index]
    assert result.cost.rekognition_images == 4


def test_faces_on_a_padded_rendition_are_mapped_back_onto_the_picture(stack: Stack, runtime: Runtime) -> None:
    # A panorama too thin to enlarge within 2048 px: Rekognition sees it padded with white.
    data = portrait([(0.45, 0.1, 0.03, 0.8)], size=(6000, 90))
    _, result = handle_event(upload(stack, "images/panorama.jpg", data), runtime)
    assert result is not None and result.analyses.outcomes["faces"].status == "ok"
    (face,) = result.analyses.faces
    # On the padded rendition it spans 0.37-0.88 of the height; mapped back, 0.1-0.9 (an ellipse this
    # thin loses a few rows to JPEG at this size).
    assert face.box.top == pytest.approx(0.1, abs=0.06) and face.box.height == pytest.approx(0.8, abs=0.12)


def test_switched_off_no_call_and_no_count(stack: Stack, runtime: Runtime, double: AiServicesDouble) -> None:
    runtime.settings = replace(runtime.settings, enable_faces=False)
    _, result = handle_event(upload(stack, "images/off.jpg", portrait(TWO_FACES)), runtime)
    assert result is not None and result.status == ImageStatus.COMPLETE
    assert result.analyses.outcomes["faces"].reason == "switched off" and result.analyses.faces == []
    assert "DetectFaces" not in [c["operation"] for c in double.calls]
    assert "face_count" not in runtime.claims.get("images/off.jpg")  # type: ignore[operator]
    assert result.cost.rekognition_images == 3


def test_a_refused_detect_faces_makes_the_image_partial_and_keeps_the_rest(
    stack: Stack, runtime: Runtime, double: AiServicesDouble
) -> None:
    double.fail_next("DetectFaces", 1, "InvalidImageFormatException")
    _, result = handle_event(upload(stack, "images/refused.jpg", portrait(TWO_FACES)), runtime)
    assert result is not None and result.status == ImageStatus.PARTIAL
    assert result.analyses.outcomes["faces"].status == "failed" and result.analyses.labels


def test_the_double_checks_detect_faces_like_the_service(double: AiServicesDouble) -> None:
    import boto3

    client = boto3.client("rekognition", endpoint_url=double.endpoint_url)
    image = {"Bytes": portrait(TWO_FACES)}
    answer = client.detect_faces(Image=image, Attributes=["DEFAULT", "AGE_RANGE"])
    assert len(answer["FaceDetails"]) == 2 and "AgeRange" in answer["FaceDetails"][0]
    assert "Smile" not in answer["FaceDetails"][0]
    with pytest.raises(ClientError) as refused:
        client.detect_faces(Image=image, Attributes=["FACE_PRINT"])
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as small:
        client.detect_faces(Image={"Bytes": portrait(TWO_FACES, size=(60, 60))})
    assert small.value.response["Error"]["Code"] == "InvalidParameterException"
