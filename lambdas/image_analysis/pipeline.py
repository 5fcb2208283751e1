"""One S3 event: ignored, a removal (removal.py), or an upload, start to finish: read, claim, prepare,
analyse (analysis.py), write the results, commit the record or release the claim.

Exactly once per object version: a conditional claim in DynamoDB (see adapters/claims.py) lets one
invocation work on a version; a duplicate delivery of a finished version is acknowledged without
any AI call; identical bytes under another key reuse the earlier analysis (adapters/content_cache.py)
and its vector (embedding.py).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace

from .adapters.claims import Busy, Claim
from .adapters.s3 import ObjectHead
from .analysis import analyse, analysis_fingerprint, estimate_cost, placed_gps
from .domain.errors import AnalysisFailed, ConfigurationError, ImageRejected, ObjectMissing, TransientError
from .domain.intake import CREATED, REMOVED, S3Event
from .domain.models import (
    Analyses,
    AnalysisOutcome,
    CachedAnalysis,
    Cost,
    ImageError,
    ImageInfo,
    ImageResult,
    render_text,
)
from .domain.records import label_index, record_from_result, result_keys_fit
from .domain.states import FINAL_STATUSES, AnalysisStatus, EventOutcome, ImageStatus, Outcome
from .embedding import (
    Vector,
    delete_stray_vector,
    delete_vector_quietly,
    described,
    embed,
    reusable,
    store_vector,
)
from .imaging.prepare import Limits, prepare
from .people import forget_faces, forget_quietly, index_people, recorded_face_ids
from .removal import remove
from .runtime import Runtime
from .settings import Settings


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
    claimed = rt.claims.claim(
        event.key,
        version_tag,
        uuid.uuid4().hex,
        rt.now_iso(),
        int(rt.clock()),
        rt.settings.claim_timeout_s,
        force=event.force,
    )
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
        result, vector = _result(info, data, rt, use_cache=not event.force)
        stored = _store(result, vector, claimed, version_tag, rt)
    except (TransientError, ConfigurationError) as exc:
        rt.claims.release(claimed, rt.now_iso(), str(exc))
        raise
    if stored is None:
        return _claim_lost(event, version_tag, rt), None
    return stored.status, stored


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


def _result(
    info: ImageInfo, data: bytes | None, rt: Runtime, use_cache: bool
) -> tuple[ImageResult, Vector | None]:
    """The image's result, and its vector for the index (None: no embedding)."""
    settings = rt.settings
    fingerprint = analysis_fingerprint(settings)
    base = ImageResult(
        image=info,
        status=ImageStatus.FAILED,
        processed_at=rt.now_iso(),
        settings_fingerprint=fingerprint,
        simulated=settings.simulated_ai,
    )
    if data is None:
        limit = settings.max_image_bytes / 1e6
        too_large = ImageRejected(
            "too_large",
            f"the file is {info.size_bytes / 1e6:.1f} MB; the limit is {limit:.0f} MB (MAX_IMAGE_BYTES)",
        )
        return _rejected(base, too_large, settings), None
    try:
        rt.layout.json_key(info.key)
    except ImageRejected as exc:
        return _rejected(base, exc, settings), None
    sha = hashlib.sha256(data).hexdigest()
    base = replace(base, image=replace(info, sha256=sha))
    # With people on, every key indexes its own faces: identical bytes are analysed again.
    use_cache = use_cache and not settings.enable_people
    cached = rt.cache.lookup(sha, fingerprint) if use_cache else None
    if cached is not None:
        return _reused(base, cached, data, rt)
    try:
        prepared = prepare(data, _limits(settings))
    except ImageRejected as exc:
        return _rejected(base, exc, settings), None
    analysed, vector = analyse(prepared, rt)
    analyses = index_people(prepared, info.key, analysed, rt)
    image = replace(base.image, format=prepared.source_format, width=prepared.width, height=prepared.height)
    status = _status(analyses)
    if status == ImageStatus.COMPLETE and not settings.enable_people:
        expires = int(rt.clock()) + settings.content_cache_days * 86400
        cache_entry = CachedAnalysis(analyses, image.format, image.width, image.height, source_key=info.key)
        rt.cache.store(sha, fingerprint, cache_entry, expires)
    result = replace(
        base,
        image=image,
        status=status,
        analyses=analyses,
        cost=estimate_cost(analyses, settings),
        notes=list(prepared.notes),
    )
    return result, vector


def _reused(
    base: ImageResult, cached: CachedAnalysis, data: bytes, rt: Runtime
) -> tuple[ImageResult, Vector | None]:
    """Identical bytes analysed before: their analysis, and their vector copied from the key it was
    made for; if that vector is gone (removed, or the key holds other bytes now), embedded afresh."""
    image = replace(base.image, format=cached.format, width=cached.width, height=cached.height)
    result = replace(base, image=image, analyses=cached.analyses, reused_from=cached.source_key)
    vector, cost = None, Cost()
    if cached.analyses.embedding is not None and rt.settings.enable_embeddings:
        vector = reusable(cached.source_key, image.sha256 or "", rt)
        outcome = AnalysisOutcome(AnalysisStatus.OK, f"the vector of {cached.source_key} (same bytes)")
        if vector is None:
            vector, outcome = _embed_again(data, rt)
            cost = _embedding_cost(rt.settings) if vector is not None else cost
        outcomes = {**result.analyses.outcomes, "embedding": outcome}
        embedding = described(rt) if vector is not None else None
        result = replace(result, analyses=replace(result.analyses, outcomes=outcomes, embedding=embedding))
    return replace(result, status=_status(result.analyses), cost=cost), vector


def _embed_again(data: bytes, rt: Runtime) -> tuple[Vector | None, AnalysisOutcome]:
    """Embed identical bytes whose earlier vector is gone; a permanent failure is the outcome."""
    try:
        return embed(prepare(data, _limits(rt.settings)), rt), AnalysisOutcome(AnalysisStatus.OK)
    except (AnalysisFailed, ImageRejected) as exc:
        return None, AnalysisOutcome(AnalysisStatus.FAILED, exc.message)


def _embedding_cost(settings: Settings) -> Cost:
    usd = round(settings.price_embedding_image_usd, 6)
    return Cost(embedded_images=1, estimated_usd=usd)


def _rejected(base: ImageResult, exc: ImageRejected, settings: Settings) -> ImageResult:
    """A refusal, with what was read before it (format, size, notes, the GPS place), if anything."""
    # No AI service saw a refused image, so nothing in it is simulated.
    failed = replace(
        base, status=ImageStatus.FAILED, error=ImageError(exc.code, exc.message), simulated=False
    )
    seen = exc.seen
    if seen is None:
        return failed
    image = replace(base.image, format=seen.format, width=seen.width, height=seen.height)
    gps = placed_gps(seen.gps, settings)
    return replace(failed, image=image, analyses=Analyses(gps=gps), notes=list(seen.notes))


def _status(analyses: Analyses) -> ImageStatus:
    failed = any(outcome.status == AnalysisStatus.FAILED for outcome in analyses.outcomes.values())
    return ImageStatus.PARTIAL if failed else ImageStatus.COMPLETE


def _limits(settings: Settings) -> Limits:
    return Limits(
        max_pixels=settings.max_image_pixels,
        min_edge=settings.min_image_edge,
        bedrock_max_edge=settings.bedrock_max_edge,
        rekognition_max_edge=settings.rekognition_max_edge,
    )


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
