"""The people analysis (ENABLE_PEOPLE, off by default): index an image's faces into the stack's
Rekognition collection, and take them out again when the image is analysed anew or removed.

Indexing stores biometric data (a feature vector per face, in Rekognition), so it is an analysis
with cleanup duties: the faces of an earlier analysis of the same key leave before the new record is
committed, faces indexed for a result that is not committed leave at once, and a removal deletes
them with the image. The table's face items (adapters/people.py) say which image each face is in.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from .adapters import dynamodb as ddb
from .domain.errors import AnalysisFailed
from .domain.faces import IndexedFace, external_image_id
from .domain.models import Analyses, AnalysisOutcome
from .domain.states import AnalysisStatus
from .imaging.prepare import PreparedImage
from .imaging.renditions import box_in_picture
from .observability import logger
from .runtime import Runtime


def index_people(prepared: PreparedImage, image_key: str, analyses: Analyses, rt: Runtime) -> Analyses:
    """`analyses` with the image's faces indexed (or why not); transient failures propagate."""
    if not rt.settings.enable_people or rt.collection is None:
        return _with(analyses, [], AnalysisOutcome(AnalysisStatus.SKIPPED, "switched off"))
    start = time.perf_counter()
    try:
        faces = rt.collection.index(prepared.rekognition.data, external_image_id(image_key))
    except AnalysisFailed as exc:
        return _with(analyses, [], AnalysisOutcome(AnalysisStatus.FAILED, exc.message))
    placed = [(face, box_in_picture(face.box, prepared.rekognition)) for face in faces]
    kept = [replace(face, box=box) for face, box in placed if box is not None]
    latency_ms = round((time.perf_counter() - start) * 1000)
    return _with(analyses, kept, AnalysisOutcome(AnalysisStatus.OK, latency_ms=latency_ms))


def forget_faces(face_ids: list[str], rt: Runtime) -> None:
    """Delete faces from the collection, then their face and person items (the order keeps an item
    pointing at every face still in the collection)."""
    if not face_ids:
        return
    if rt.collection is not None:
        rt.collection.delete(face_ids)
    rt.people.forget(face_ids)


def forget_quietly(face_ids: list[str], rt: Runtime) -> None:
    """forget_faces while another failure is already on its way up: this one is logged, not raised."""
    try:
        forget_faces(face_ids, rt)
    except Exception as exc:  # the first failure matters; this one leaves faces to a later removal
        logger.error("could not delete indexed faces", face_count=len(face_ids), error=str(exc))


def recorded_face_ids(item: dict[str, Any] | None, plain: bool = False) -> list[str]:
    """The face ids a record lists (a DynamoDB item as returned by a write, or `plain` values)."""
    if not item:
        return []
    values = item if plain else ddb.from_item(item)
    return [str(face_id) for face_id in values.get("face_ids") or []]


def _with(analyses: Analyses, faces: list[IndexedFace], outcome: AnalysisOutcome) -> Analyses:
    return replace(analyses, people=faces, outcomes={**analyses.outcomes, "people": outcome})
