"""Amazon Rekognition face collection adapter: the people analysis (off unless ENABLE_PEOPLE).

IndexFaces stores each face's feature vector in the stack's collection under a face id; the image
is tied to its faces by ExternalImageId (domain/faces.py) and by the table's face items
(adapters/people.py). Search and delete act on face ids. Detection (adapters/rekognition.py) stores
nothing; this does, which is why it is a switch of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.faces import IndexedFace
from .errors import translate
from .rekognition import box_from_wire

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient

MAX_FACES_PER_IMAGE = 50  # the largest faces of a crowd; IndexFaces returns at most 100
DELETE_BATCH = 4096  # DeleteFaces' FaceIds limit


@dataclass(frozen=True)
class FaceMatch:
    face_id: str
    similarity: float
    external_image_id: str | None


class FaceCollection:
    """One Rekognition collection, through one client."""

    def __init__(self, client: RekognitionClient, collection_id: str) -> None:
        self.client = client
        self.collection_id = collection_id

    def index(self, image: bytes, external_image_id: str) -> list[IndexedFace]:
        """Index the faces good enough to search by (QualityFilter AUTO), the largest first."""
        response = _call(
            self.client.index_faces,
            "IndexFaces",
            CollectionId=self.collection_id,
            Image={"Bytes": image},
            ExternalImageId=external_image_id,
            MaxFaces=MAX_FACES_PER_IMAGE,
            QualityFilter="AUTO",
            DetectionAttributes=["DEFAULT"],
        )
        return [
            IndexedFace(
                face_id=str(r["Face"]["FaceId"]), box=box_from_wire(r["Face"].get("BoundingBox") or {})
            )
            for r in response.get("FaceRecords", [])
        ]

    def delete(self, face_ids: list[str]) -> None:
        """Delete faces from the collection; ids it does not hold (deleted already) are no error."""
        for start in range(0, len(face_ids), DELETE_BATCH):
            batch = face_ids[start : start + DELETE_BATCH]
            _call(self.client.delete_faces, "DeleteFaces", CollectionId=self.collection_id, FaceIds=batch)

    def search(self, face_id: str, threshold: float, max_faces: int = 1000) -> list[FaceMatch]:
        """Faces in the collection like this one (the face itself is not among them)."""
        response = _call(
            self.client.search_faces,
            "SearchFaces",
            CollectionId=self.collection_id,
            FaceId=face_id,
            FaceMatchThreshold=threshold,
            MaxFaces=max_faces,
        )
        return _matches(response)

    def search_by_image(self, image: bytes, threshold: float, max_faces: int = 1000) -> list[FaceMatch]:
        """Faces in the collection like the largest face in `image`."""
        response = _call(
            self.client.search_faces_by_image,
            "SearchFacesByImage",
            CollectionId=self.collection_id,
            Image={"Bytes": image},
            FaceMatchThreshold=threshold,
            MaxFaces=max_faces,
        )
        return _matches(response)


def _matches(response: dict[str, Any]) -> list[FaceMatch]:
    return [
        FaceMatch(
            face_id=str(m["Face"]["FaceId"]),
            similarity=round(float(m.get("Similarity", 0)), 2),
            external_image_id=m["Face"].get("ExternalImageId"),
        )
        for m in response.get("FaceMatches", [])
    ]


def _call(method: Callable[..., Any], operation: str, **params: Any) -> dict[str, Any]:
    try:
        return dict(method(**params))
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"Rekognition {operation}") from exc
