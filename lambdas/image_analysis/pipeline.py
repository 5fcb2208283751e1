"""One S3 event: ignored, a removal (removal.py), or an upload, start to finish: read, claim, make the
result (result.py: prepare, analyse), write the results, commit the record or release the claim.

Exactly once per object version: a conditional claim in DynamoDB (see adapters/claims.py) lets one
invocation work on a version; a duplicate delivery of a finished version is acknowledged without
any AI call; identical bytes under another key reuse the earlier analysis (adapters/content_cache.py)
and its vector (embedding.py). A backfill's refresh of a finished version runs again only the
analyses whose settings changed (fingerprints.py), over the earlier result document.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .adapters.claims import Busy, Claim
from .adapters.s3 import ObjectHead
from .domain.errors import ConfigurationError, ObjectMissing, TransientError
from .domain.intake import CREATED, REMOVED, S3Event
from .domain.models import (
    ImageInfo,
    ImageResult,
    render_text,
)
from .domain.records import label_index, record_from_result, result_keys_fit
from .domain.states import FINAL_STATUSES, EventOutcome, Outcome
from .embedding import (
    Vector,
    delete_stray_vector,
    delete_vector_quietly,
    store_vector,
)
from .fingerprints import changed_analyses
from .people import forget_faces, forget_quietly, recorded_face_ids
from .removal import remove
from .result import build_result
from .runtime import Runtime


def handle_event(event: S3Event, rt: Runtime) -> tuple[Outcome, ImageResult | None]:
    """Act on one S3 event; returns (outcome, result if one was produced)."""
    if not rt.layout.is_image_key(event.key):
        return EventOutcome.IGNORED, None
    if event.kind == REMOVED:
        outcome = remove(event, rt)
        if outcome is EventOutcome.STALE_REMOVAL and event.version_deleted:
            # A version was deleted for good and the key still has one: an overwrite undone, or an
            # undelete (the delete marker deleted). The record must describe the version current now;
            # if it already does, this costs one read and ends as a duplicate, with no AI call.
            return _analyse(S3Event(CREATED, event.bucket, event.key), rt)
        return outcome, None
    return _analyse(event, rt)


def _analyse(event: S3Event, rt: Runtime) -> tuple[Outcome, ImageResult | None]:
    try:
        head, data = rt.s3.read(event.bucket, event.key, rt.settings.max_image_bytes)
    except ObjectMissing:
        return EventOutcome.GONE, None  # deleted before we got here; its removal event cleans up
    if _superseded(event, head):
        return EventOutcome.SUPERSEDED, None  # a newer version exists; its own event analyses it
    if event.key.endswith("/") and data == b"":
        return EventOutcome.IGNORED, None  # an empty "folder" marker (the S3 console's Create folder)
    version_tag = head.version_id or head.etag
    claimed = _claim(event.key, version_tag, rt, force=event.force)
    if isinstance(claimed, Busy) and event.refresh and _refreshable(claimed.existing, version_tag, rt):
        claimed = _claim(event.key, version_tag, rt, force=True)
    if isinstance(claimed, Busy):
        existing = claimed.existing
        if existing.get("status") in FINAL_STATUSES and existing.get("version_tag") == version_tag:
            return EventOutcome.DUPLICATE, None
        doing = "removed" if int(existing.get("removal_expires") or 0) >= int(rt.clock()) else "analysed"
        raise TransientError(f"{event.key} is being {doing} by another invocation; retrying later")
    current_tag = _current_tag(event, rt)
    if current_tag != version_tag:
        # Uploaded over (or deleted) between our read and our claim: our claim may have displaced the
        # newer version's record or claim, so put it back; the newer version's own event analyses it.
        rt.claims.restore(claimed)
        return (EventOutcome.GONE if current_tag is None else EventOutcome.SUPERSEDED), None
    info = ImageInfo(event.bucket, event.key, head.version_id, head.etag, head.size)
    try:
        result, vector = build_result(info, data, rt, use_cache=not event.force, refresh=event.refresh)
        stored = _store(result, vector, claimed, version_tag, rt)
    except (TransientError, ConfigurationError) as exc:
        rt.claims.release(claimed, rt.now_iso(), str(exc))
        raise
    if stored is None:
        return _claim_lost(event, version_tag, rt), None
    return stored.status, stored


def _claim(key: str, version_tag: str, rt: Runtime, force: bool) -> Claim | Busy:
    now = rt.clock()
    return rt.claims.claim(
        key, version_tag, uuid.uuid4().hex, rt.now_iso(), int(now), rt.settings.claim_timeout_s, force=force
    )


def _refreshable(record: dict[str, Any], version_tag: str, rt: Runtime) -> bool:
    """A finished record of this version made under settings some analysis has changed since."""
    if record.get("status") not in FINAL_STATUSES or record.get("version_tag") != version_tag:
        return False  # not finished (a claim holds it), or another version: the usual rules apply
    return changed_analyses(record.get("analysis_fingerprints"), rt.settings) != frozenset()


def _current_tag(event: S3Event, rt: Runtime) -> str | None:
    current = rt.s3.head(event.bucket, event.key)
    return None if current is None else current.version_id or current.etag


def _claim_lost(event: S3Event, version_tag: str, rt: Runtime) -> EventOutcome:
    """Our finished analysis could not be committed: someone else holds the key. Acknowledge only when
    that is rightful (the image was replaced or deleted, or a duplicate delivery finished this same
    version); otherwise the analysis must be redone, so the message is retried."""
    if _current_tag(event, rt) != version_tag:
        return EventOutcome.SUPERSEDED
    record = rt.claims.get(event.key)
    if record and record.get("status") in FINAL_STATUSES and record.get("version_tag") == version_tag:
        return EventOutcome.DUPLICATE
    raise TransientError(f"{event.key}: lost the claim before committing the result; analysing again")


def _superseded(event: S3Event, head: ObjectHead) -> bool:
    if event.version_id and head.version_id:
        return event.version_id != head.version_id
    return bool(event.etag and head.etag and event.etag != head.etag)


def _store(
    result: ImageResult, vector: Vector | None, claim: Claim, version_tag: str, rt: Runtime
) -> ImageResult | None:
    """The vector to the index first (an index refusing it makes the result partial), then results to
    S3, then the record; returns the result as stored, or None when the claim was lost meanwhile
    (then our writes are undone)."""
    key, bucket = result.image.key, result.image.bucket
    result, vector_put = store_vector(result, vector, claim.token, version_tag, rt)
    documents: dict[str, tuple[bytes, str]] = {}
    if result_keys_fit(rt.layout, key):  # else the record alone carries the key_too_long failure
        documents = {
            rt.layout.json_key(key): (_json(result), "application/json"),
            rt.layout.text_key(key): (render_text(result).encode(), "text/plain; charset=utf-8"),
        }
    indexed = [face.face_id for face in result.analyses.people]
    try:
        written = rt.s3.write_results(bucket, documents)
        record = record_from_result(result, rt.layout, version_tag, rt.now_iso())
        if indexed:
            rt.people.add_faces(key, result.analyses.people, rt.now_iso())
        # The faces of this key's earlier analysis leave the collection before the new record stands.
        forget_faces([f for f in recorded_face_ids(claim.previous) if f not in indexed], rt)
        if rt.claims.finish(claim, record, label_index(result)):
            return result
    except (TransientError, ConfigurationError):
        forget_quietly(indexed, rt)  # the retry indexes the faces again
        if vector_put:
            delete_vector_quietly(key, rt)  # and puts the vector again
        raise
    rt.s3.undo_writes(bucket, written)
    forget_faces(indexed, rt)
    if vector_put:
        delete_stray_vector(key, version_tag, rt)
    return None


def _json(result: ImageResult) -> bytes:
    return json.dumps(result.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")
