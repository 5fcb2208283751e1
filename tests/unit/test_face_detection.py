"""Face detection without a server: the Rekognition adapter against botocore's Stubber (the request
and response shapes of the service model), and the AI double's simulated face rules on pixels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from image_analysis.adapters.rekognition import Rekognition
from image_analysis.domain.faces import Emotion, Face, describe_face
from image_analysis.domain.models import Box

from imgpipe.simulated import faces as simulated
from tests.cli.helpers import picture
from tests.imagegen import SKIN_DARK, jpeg, portrait

IMAGE = jpeg((320, 240))


@pytest.fixture
def stub() -> Iterator[tuple[Rekognition, Stubber]]:
    client = boto3.client("rekognition", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield Rekognition(client), stubber
        stubber.assert_no_pending_responses()


def detail(confidence: float, **extra: Any) -> dict[str, Any]:
    return {
        "BoundingBox": {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4},
        "Confidence": confidence,
        "Landmarks": [{"Type": "nose", "X": 0.25, "Y": 0.4}],
        "Pose": {"Roll": 1.0, "Yaw": 2.0, "Pitch": 3.0},
        "Quality": {"Brightness": 71.234, "Sharpness": 88.888},
        **extra,
    }


def test_detect_faces_asks_for_named_attributes_and_keeps_no_biometric_data(
    stub: tuple[Rekognition, Stubber],
) -> None:
    rekognition, stubber = stub
    attributes = ["DEFAULT", "AGE_RANGE", "EMOTIONS", "SMILE", "EYES_OPEN", "EYEGLASSES", "SUNGLASSES"]
    stubber.add_response(
        "detect_faces",
        {
            "FaceDetails": [
                detail(
                    99.51,
                    AgeRange={"Low": 25, "High": 33},
                    Emotions=[
                        {"Type": "CALM", "Confidence": 12.0},
                        {"Type": "HAPPY", "Confidence": 80.0},
                        {"Type": "SURPRISED", "Confidence": 55.0},
                    ],
                    Smile={"Value": True, "Confidence": 90.0},
                    EyesOpen={"Value": False, "Confidence": 90.0},
                    Eyeglasses={"Value": True, "Confidence": 90.0},
                    Sunglasses={"Value": False, "Confidence": 90.0},
                ),
                detail(60.0),  # below the face confidence threshold: not a face to keep
            ]
        },
        {"Image": {"Bytes": IMAGE}, "Attributes": attributes},  # never GENDER
    )
    found = rekognition.detect_faces(IMAGE, min_confidence=90.0, emotion_min_confidence=50.0)
    assert found == [
        Face(
            box=Box(0.1, 0.2, 0.3, 0.4),
            confidence=99.51,
            age_low=25,
            age_high=33,
            emotions=[Emotion("HAPPY", 80.0), Emotion("SURPRISED", 55.0)],  # most confident first
            smile=True,
            eyes_open=False,
            eyeglasses=True,
            sunglasses=False,
            brightness=71.23,
            sharpness=88.89,
        )
    ]
    assert describe_face(found[0]) == "age 25-33, happy, surprised, smiling, eyes closed, glasses"


def test_a_face_without_attributes_is_still_a_face(stub: tuple[Rekognition, Stubber]) -> None:
    rekognition, stubber = stub
    stubber.add_response("detect_faces", {"FaceDetails": [detail(95.0)]})
    (face,) = rekognition.detect_faces(IMAGE, 90.0, 50.0)
    assert face.age_low is None and face.smile is None and face.emotions == []
    assert describe_face(face) == "a face"


# --------------------------------------------------------------------------- the double's face rules


def test_each_skin_blob_is_a_face_where_it_was_drawn_largest_first() -> None:
    boxes = [(0.6, 0.3, 0.15, 0.25), (0.1, 0.2, 0.2, 0.35)]
    found = simulated.find_faces(portrait(boxes))
    assert len(found) == 2
    for face, (left, top, width, height) in zip(found, reversed(boxes), strict=True):
        assert face.box.left == pytest.approx(left, abs=0.02)
        assert face.box.top == pytest.approx(top, abs=0.02)
        assert face.box.width == pytest.approx(width, abs=0.02)
        assert face.box.height == pytest.approx(height, abs=0.02)
        assert face.confidence > 90


def test_drawn_features_decide_smile_eyes_and_emotion() -> None:
    (smiling,) = simulated.find_faces(portrait([(0.3, 0.1, 0.3, 0.5)], smiling=True))
    (serious,) = simulated.find_faces(portrait([(0.3, 0.1, 0.3, 0.5)], smiling=False))
    every = {"ALL"}
    happy, calm = simulated.face_detail(smiling, every), simulated.face_detail(serious, every)
    assert happy["Smile"]["Value"] and not calm["Smile"]["Value"]
    assert happy["Emotions"][0]["Type"] == "HAPPY" and calm["Emotions"][0]["Type"] == "CALM"
    assert happy["EyesOpen"]["Value"] and not happy["Sunglasses"]["Value"]
    # DEFAULT alone answers the box, confidence, landmarks, pose and quality only
    assert set(simulated.face_detail(smiling, {"DEFAULT"})) == {
        "BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"
    }  # fmt: skip


def test_pictures_without_skin_have_no_faces() -> None:
    assert simulated.find_faces(jpeg((640, 480))) == []
    assert simulated.find_faces(picture("Red", 1)) == []  # the operator-command tests' pictures
    assert simulated.find_faces(picture("Blue", 4)) == []


def test_the_same_face_matches_across_pictures_and_another_tone_does_not() -> None:
    (one,) = simulated.find_faces(portrait([(0.2, 0.2, 0.24, 0.4)], size=(800, 600)))
    (again,) = simulated.find_faces(portrait([(0.5, 0.1, 0.3, 0.5)], size=(1024, 768), smiling=False))
    (other,) = simulated.find_faces(portrait([(0.2, 0.2, 0.24, 0.4)], tone=SKIN_DARK))
    assert simulated.similarity(one.signature, again.signature) >= 90
    assert simulated.similarity(one.signature, other.signature) < 50
