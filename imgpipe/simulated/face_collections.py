"""SIMULATED Rekognition face collections, not AWS: what the AI services test double keeps for
CreateCollection, IndexFaces, SearchFaces, SearchFacesByImage, DeleteFaces and ListFaces.

Faces are found by the pixel rules of faces.py; each indexed face keeps its simulated identity (the
signature there) in memory, and a search ranks the collection's faces by `faces.similarity`, so the
same drawn face in two pictures matches and a face of another tone does not. Face and image ids are
random UUIDs, as Rekognition's are. Limits and errors follow the botocore model: the id patterns and
lengths, MaxFaces and FaceMatchThreshold ranges, at most 4,096 ids per DeleteFaces, an unknown
collection (ResourceNotFoundException), an image without a face for SearchFacesByImage.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from imgpipe.simulated import faces
from imgpipe.simulated.ai_answers import BoundingBox

JsonDict = dict[str, Any]

MODEL_VERSION = "7.0"
COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
EXTERNAL_IMAGE_ID = re.compile(r"[a-zA-Z0-9_.\-:]{1,255}")
FACE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
QUALITY_FILTERS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")
MIN_QUALITY_CONFIDENCE = 90.0  # below it, a face is "LOW_CONFIDENCE" unless QualityFilter is NONE
BAD = "InvalidParameterException"


class CollectionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class StoredFace:
    face_id: str
    image_id: str
    external_image_id: str | None
    box: BoundingBox
    confidence: float
    signature: tuple[float, ...]

    def wire(self) -> JsonDict:
        face: JsonDict = {
            "FaceId": self.face_id,
            "BoundingBox": self.box.to_wire(),
            "ImageId": self.image_id,
            "Confidence": self.confidence,
            "IndexFacesModelVersion": MODEL_VERSION,
        }
        if self.external_image_id is not None:
            face["ExternalImageId"] = self.external_image_id
        return face


@dataclass
class FaceCollections:
    """Every collection of one double, guarded by one lock (the server is threaded)."""

    collections: dict[str, dict[str, StoredFace]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.collections.clear()

    def faces_in(self, collection_id: str) -> list[StoredFace]:
        with self.lock:
            return list(self.collections.get(collection_id, {}).values())

    def answer(self, operation: str, request: JsonDict, image: bytes | None) -> JsonDict:
        collection_id = request.get("CollectionId")
        if not isinstance(collection_id, str) or not COLLECTION_ID.fullmatch(collection_id):
            raise CollectionError(BAD, f"CollectionId {collection_id!r} must match [a-zA-Z0-9_.\\-]+ (1-255)")
        with self.lock:
            if operation == "CreateCollection":
                return self._create(collection_id)
            if collection_id not in self.collections:
                raise CollectionError(
                    "ResourceNotFoundException", f"The collection id: {collection_id} does not exist"
                )
            stored = self.collections[collection_id]
            if operation == "IndexFaces":
                return _index(stored, request, image or b"")
            if operation == "SearchFacesByImage":
                return _search_by_image(stored, request, image or b"")
            if operation == "SearchFaces":
                return _search(stored, request)
            if operation == "DeleteFaces":
                return _delete(stored, request)
            return _list(stored, request)

    def _create(self, collection_id: str) -> JsonDict:
        if collection_id in self.collections:
            raise CollectionError(
                "ResourceAlreadyExistsException", f"The collection id: {collection_id} already exists"
            )
        self.collections[collection_id] = {}
        arn = f"aws:rekognition:us-east-1:123456789012:collection/{collection_id}"
        return {"StatusCode": 200, "CollectionArn": arn, "FaceModelVersion": MODEL_VERSION}


def _index(stored: dict[str, StoredFace], request: JsonDict, image: bytes) -> JsonDict:
    external = request.get("ExternalImageId")
    if external is not None and (not isinstance(external, str) or not EXTERNAL_IMAGE_ID.fullmatch(external)):
        raise CollectionError(
            BAD, "ExternalImageId must match [a-zA-Z0-9_.\\-:]+ and be at most 255 characters"
        )
    max_faces = _integer(request, "MaxFaces", 1, None, faces.MAX_FACES)
    quality = request.get("QualityFilter", "AUTO")
    if quality not in QUALITY_FILTERS:
        raise CollectionError(BAD, f"QualityFilter must be one of {', '.join(QUALITY_FILTERS)}")
    attributes = set(request.get("DetectionAttributes") or ["DEFAULT"])
    image_id = str(uuid.uuid4())
    records: list[JsonDict] = []
    unindexed: list[JsonDict] = []
    for found in faces.find_faces(image):
        detail = faces.face_detail(found, attributes)
        if quality != "NONE" and found.confidence < MIN_QUALITY_CONFIDENCE:
            unindexed.append({"Reasons": ["LOW_CONFIDENCE"], "FaceDetail": detail})
        elif len(records) >= max_faces:
            unindexed.append({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": detail})
        else:
            face = StoredFace(
                str(uuid.uuid4()), image_id, external, found.box, found.confidence, found.signature
            )
            stored[face.face_id] = face
            records.append({"Face": face.wire(), "FaceDetail": detail})
    return {"FaceRecords": records, "UnindexedFaces": unindexed, "FaceModelVersion": MODEL_VERSION}


def _search(stored: dict[str, StoredFace], request: JsonDict) -> JsonDict:
    face_id = request.get("FaceId")
    if not isinstance(face_id, str) or not FACE_ID.fullmatch(face_id):
        raise CollectionError(BAD, "FaceId must be a face id (a UUID)")
    if face_id not in stored:
        raise CollectionError(BAD, f"Face {face_id} is not in the collection")
    matches = _ranked(stored, stored[face_id].signature, request, exclude=face_id)
    return {"SearchedFaceId": face_id, "FaceMatches": matches, "FaceModelVersion": MODEL_VERSION}


def _search_by_image(stored: dict[str, StoredFace], request: JsonDict, image: bytes) -> JsonDict:
    found = faces.find_faces(image)
    if not found:
        raise CollectionError(BAD, "There are no faces in the image. Should be at least 1.")
    largest = found[0]
    return {
        "SearchedFaceBoundingBox": largest.box.to_wire(),
        "SearchedFaceConfidence": largest.confidence,
        "FaceMatches": _ranked(stored, largest.signature, request, exclude=None),
        "FaceModelVersion": MODEL_VERSION,
    }


def _ranked(
    stored: dict[str, StoredFace], signature: tuple[float, ...], request: JsonDict, exclude: str | None
) -> list[JsonDict]:
    threshold = request.get("FaceMatchThreshold", 80.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 100:
        raise CollectionError(BAD, "FaceMatchThreshold must be within [0, 100]")
    max_faces = _integer(request, "MaxFaces", 1, 4096, 80)
    scored = [
        (faces.similarity(signature, face.signature), face)
        for face in stored.values()
        if face.face_id != exclude
    ]
    scored = sorted((s for s in scored if s[0] >= threshold), key=lambda s: -s[0])[:max_faces]
    return [{"Similarity": similarity, "Face": face.wire()} for similarity, face in scored]


def _delete(stored: dict[str, StoredFace], request: JsonDict) -> JsonDict:
    face_ids = request.get("FaceIds")
    if not isinstance(face_ids, list) or not 1 <= len(face_ids) <= 4096:
        raise CollectionError(BAD, "FaceIds must list 1 to 4096 face ids")
    if not all(isinstance(i, str) and FACE_ID.fullmatch(i) for i in face_ids):
        raise CollectionError(BAD, "FaceIds must be face ids (UUIDs)")
    deleted = [i for i in face_ids if stored.pop(i, None) is not None]
    missing = [{"FaceId": i, "Reasons": ["FACE_NOT_FOUND"]} for i in face_ids if i not in deleted]
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": missing}


def _list(stored: dict[str, StoredFace], request: JsonDict) -> JsonDict:
    page = _integer(request, "MaxResults", 0, 4096, 1000)
    token = request.get("NextToken")
    start = int(token) if isinstance(token, str) and token.isdigit() else 0
    if token is not None and not (isinstance(token, str) and token.isdigit()):
        raise CollectionError("InvalidPaginationTokenException", "Invalid pagination token")
    wanted = request.get("FaceIds")
    listed = [f for f in stored.values() if wanted is None or f.face_id in wanted]
    answer: JsonDict = {
        "Faces": [f.wire() for f in listed[start : start + page]],
        "FaceModelVersion": MODEL_VERSION,
    }
    if start + page < len(listed):
        answer["NextToken"] = str(start + page)
    return answer


def _integer(request: JsonDict, key: str, low: int, high: int | None, default: int) -> int:
    value = request.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        raise CollectionError(BAD, f"{key} must be an integer within [{low}, {high or 'any'}], got {value!r}")
    return value
