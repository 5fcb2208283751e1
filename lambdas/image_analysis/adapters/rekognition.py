"""Amazon Rekognition adapter: labels, text lines and moderation for one JPEG rendition."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

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
                instances=[_box(i["BoundingBox"]) for i in item.get("Instances", []) if "BoundingBox" in i],
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
                box=_box(item["Geometry"]["BoundingBox"]) if "Geometry" in item else None,
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


def _call(method: Callable[..., Any], operation: str, **params: Any) -> dict[str, Any]:
    try:
        return dict(method(**params))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"Rekognition {operation}") from exc


def _box(raw: Mapping[str, Any]) -> Box:
    return Box(
        left=round(float(raw.get("Left", 0.0)), 4),
        top=round(float(raw.get("Top", 0.0)), 4),
        width=round(float(raw.get("Width", 0.0)), 4),
        height=round(float(raw.get("Height", 0.0)), 4),
    )
