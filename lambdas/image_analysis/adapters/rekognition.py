"""Amazon Rekognition adapter: labels, text lines, moderation and faces for one JPEG rendition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.faces import Emotion, Face
from ..domain.models import Box, Label, Moderation, ModerationLabel, TextLine
from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient


class Rekognition:
    """Rekognition's image APIs, through one client; `image` is a rendition's JPEG bytes."""

    def __init__(self, client: RekognitionClient) -> None:
        self.client = client

    def detect_labels(self, image: bytes, max_labels: int, min_confidence: float) -> list[Label]:
        response = _call(
            self.client.detect_labels,
            "DetectLabels",
            Image={"Bytes": image},
            MaxLabels=max_labels,
            MinConfidence=min_confidence,
        )
        return [
            Label(
                name=item["Name"],
                confidence=round(float(item["Confidence"]), 2),
                parents=[p["Name"] for p in item.get("Parents", [])],
                categories=[c["Name"] for c in item.get("Categories", [])],
                instances=[
                    box_from_wire(i["BoundingBox"]) for i in item.get("Instances", []) if "BoundingBox" in i
                ],
            )
            for item in response.get("Labels", [])
        ]

    def detect_text(self, image: bytes, min_confidence: float) -> list[TextLine]:
        """Lines only (words repeat them); DetectText returns at most 100 words per image."""
        response = _call(self.client.detect_text, "DetectText", Image={"Bytes": image})
        return [
            TextLine(
                text=item["DetectedText"],
                confidence=round(float(item["Confidence"]), 2),
                box=box_from_wire(item["Geometry"]["BoundingBox"]) if "Geometry" in item else None,
            )
            for item in response.get("TextDetections", [])
            if item.get("Type") == "LINE" and float(item.get("Confidence", 0)) >= min_confidence
        ]

    def detect_moderation(self, image: bytes, min_confidence: float) -> Moderation:
        response = _call(
            self.client.detect_moderation_labels,
            "DetectModerationLabels",
            Image={"Bytes": image},
            MinConfidence=min_confidence,
        )
        labels = [
            ModerationLabel(
                name=item["Name"],
                parent=item.get("ParentName") or None,
                confidence=round(float(item["Confidence"]), 2),
            )
            for item in response.get("ModerationLabels", [])
        ]
        return Moderation(flagged=bool(labels), labels=labels)

    def detect_faces(self, image: bytes, min_confidence: float, emotion_min_confidence: float) -> list[Face]:
        """Faces, largest first, with the attributes asked for by name: never GENDER, and the landmarks
        and pose that come with DEFAULT are not kept (detection stores no biometric data)."""
        response = _call(
            self.client.detect_faces, "DetectFaces", Image={"Bytes": image}, Attributes=list(FACE_ATTRIBUTES)
        )
        details = [
            d for d in response.get("FaceDetails", []) if float(d.get("Confidence", 0)) >= min_confidence
        ]
        return [_face(detail, emotion_min_confidence) for detail in details]


# DEFAULT brings the box, confidence and quality; the rest are the attributes the result keeps.
FACE_ATTRIBUTES = ("DEFAULT", "AGE_RANGE", "EMOTIONS", "SMILE", "EYES_OPEN", "EYEGLASSES", "SUNGLASSES")


def _face(detail: Mapping[str, Any], emotion_min_confidence: float) -> Face:
    age, quality = detail.get("AgeRange") or {}, detail.get("Quality") or {}
    emotions = sorted(
        (e for e in detail.get("Emotions", []) if float(e.get("Confidence", 0)) >= emotion_min_confidence),
        key=lambda e: -float(e["Confidence"]),
    )
    return Face(
        box=box_from_wire(detail.get("BoundingBox") or {}),
        confidence=round(float(detail.get("Confidence", 0)), 2),
        age_low=age.get("Low"),
        age_high=age.get("High"),
        emotions=[Emotion(str(e["Type"]), round(float(e["Confidence"]), 2)) for e in emotions],
        smile=_flag(detail, "Smile"),
        eyes_open=_flag(detail, "EyesOpen"),
        eyeglasses=_flag(detail, "Eyeglasses"),
        sunglasses=_flag(detail, "Sunglasses"),
        brightness=_rounded(quality.get("Brightness")),
        sharpness=_rounded(quality.get("Sharpness")),
    )


def _flag(detail: Mapping[str, Any], name: str) -> bool | None:
    value = (detail.get(name) or {}).get("Value")
    return None if value is None else bool(value)


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _call(method: Callable[..., Any], operation: str, **params: Any) -> dict[str, Any]:
    try:
        return dict(method(**params))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"Rekognition {operation}") from exc


def box_from_wire(raw: Mapping[str, Any]) -> Box:
    return Box(
        left=round(float(raw.get("Left", 0.0)), 4),
        top=round(float(raw.get("Top", 0.0)), 4),
        width=round(float(raw.get("Width", 0.0)), 4),
        height=round(float(raw.get("Height", 0.0)), 4),
    )
