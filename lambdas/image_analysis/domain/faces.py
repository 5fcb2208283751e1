"""Faces found by detection (Rekognition DetectFaces): where each face is and what it shows.

Detection stores no biometric data: no landmarks, pose or face vectors, only a box and a few
attributes (age range, emotions, smile, eyes, glasses, image quality). Indexing faces so a person can
be found again is the separate, opt-in people analysis (ENABLE_PEOPLE).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .boxes import Box


@dataclass(frozen=True)
class Emotion:
    type: str  # Rekognition's EmotionName, e.g. "HAPPY"
    confidence: float


@dataclass(frozen=True)
class Face:
    box: Box
    confidence: float
    age_low: int | None = None
    age_high: int | None = None
    emotions: list[Emotion] = field(default_factory=list)  # above FACES_EMOTION_MIN_CONFIDENCE
    smile: bool | None = None
    eyes_open: bool | None = None
    eyeglasses: bool | None = None
    sunglasses: bool | None = None
    brightness: float | None = None  # image quality of the face, 0-100
    sharpness: float | None = None


def face_from_dict(data: dict[str, Any]) -> Face:
    return Face(
        **(data | {"box": Box(**data["box"]), "emotions": [Emotion(**e) for e in data.get("emotions", [])]})
    )


def describe_face(face: Face) -> str:
    """One short phrase for the .txt and the report: age, emotions, smile, eyes, glasses."""
    parts = []
    if face.age_low is not None and face.age_high is not None:
        parts.append(f"age {face.age_low}-{face.age_high}")
    parts += [e.type.lower() for e in face.emotions]
    for flag, yes, no in (
        (face.smile, "smiling", None),
        (face.eyes_open, "eyes open", "eyes closed"),
        (face.eyeglasses, "glasses", None),
        (face.sunglasses, "sunglasses", None),
    ):
        word = yes if flag else no if flag is False else None
        if word:
            parts.append(word)
    return ", ".join(parts) or "a face"


@dataclass(frozen=True)
class IndexedFace:
    """A face the people analysis indexed into the stack's Rekognition collection: the id the
    collection knows it by (its feature vector stays in Rekognition) and where it is in the picture."""

    face_id: str
    box: Box


def indexed_face_from_dict(data: dict[str, Any]) -> IndexedFace:
    return IndexedFace(face_id=data["face_id"], box=Box(**data["box"]))


def external_image_id(image_key: str) -> str:
    """The ExternalImageId tying an image's faces to it in the collection. Rekognition allows only
    [a-zA-Z0-9_.-:] and 255 characters, and an S3 key may be 1,024 bytes of anything, so the key's
    SHA-256 stands for it (the table maps face ids to keys: domain/table.py)."""
    return "sha256:" + hashlib.sha256(image_key.encode("utf-8")).hexdigest()
