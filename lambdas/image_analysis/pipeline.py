"""One S3 event, start to finish: claim, read, prepare, analyse, write results, release.

Exactly once per object version: a conditional claim in DynamoDB (see results_table.py) lets one
invocation work on a version; a duplicate delivery of a finished version is acknowledged without
any AI call; identical bytes under another key reuse the earlier analysis.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from . import imaging, s3store
from . import table as t
from .analysis import FAILED, AiClients, analyse, estimate_cost, placed_gps
from .errors import ConfigurationError, ImageRejected, ObjectMissing, TransientError
from .intake import REMOVED, S3Event
from .keys import KeyLayout
from .models import Analyses, ImageInfo, ImageResult, analyses_from_dict, render_text
from .records import label_index, record_from_result, result_keys_fit
from .results_table import Busy, Claim, ResultsTable
from .settings import Settings

# What happened to an event, for logs, metrics and tests.
IGNORED, GONE, SUPERSEDED, DUPLICATE, REMOVED_OK, STALE_REMOVAL = (
    "ignored",
    "gone",
    "superseded",
    "duplicate",
    "removed",
    "stale_removal",
)


@dataclass
class Runtime:
    """Everything a run needs, built once per process (see clients.py) or by tests."""

    settings: Settings
    s3: Any
    table: ResultsTable
    ai: AiClients
    executor: Executor
    sqs: Any  # to shorten a failed message's wait (redelivery.py)
    clock: Callable[[], float] = field(default=time.time)

    @property
    def layout(self) -> KeyLayout:
        return KeyLayout(self.settings.input_prefix, self.settings.output_prefix)

    def now_iso(self) -> str:
        return (
            datetime.fromtimestamp(self.clock(), UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )


def handle_event(event: S3Event, rt: Runtime) -> tuple[str, ImageResult | None]:
    """Act on one S3 event; returns (outcome, result if one was produced)."""
    if not rt.layout.is_image_key(event.key):
        return IGNORED, None
    if event.kind == REMOVED:
        return _remove(event, rt), None
    return _analyse(event, rt)


def _remove(event: S3Event, rt: Runtime) -> str:
    """Delete an image's results and record, never a newer upload's: see docs on the removal lock."""
    if s3store.exists(rt.s3, event.bucket, event.key):
        return STALE_REMOVAL  # re-uploaded since: the newer upload's results must stay
    lock = rt.table.lock_for_removal(
        event.key, uuid.uuid4().hex, int(rt.clock()), rt.settings.claim_timeout_s
    )
    if isinstance(lock, Busy):
        if s3store.exists(rt.s3, event.bucket, event.key):
            return STALE_REMOVAL  # the analysis holding the key is the re-upload's
        raise TransientError(f"{event.key} is being analysed or removed by another invocation; retrying")
    try:
        if s3store.exists(rt.s3, event.bucket, event.key):  # re-uploaded before we held the key
            rt.table.unlock_removal(lock)
            return STALE_REMOVAL
        if result_keys_fit(rt.layout, event.key):  # else it never had results in S3
            result_keys = [rt.layout.json_key(event.key), rt.layout.text_key(event.key)]
            s3store.delete_results(rt.s3, event.bucket, result_keys)
        rt.table.delete_image(lock)
    except (TransientError, ConfigurationError):
        rt.table.unlock_removal(lock)
        raise
    return REMOVED_OK


def _analyse(event: S3Event, rt: Runtime) -> tuple[str, ImageResult | None]:
    try:
        head, data = s3store.read(rt.s3, event.bucket, event.key, rt.settings.max_image_bytes)
    except ObjectMissing:
        return GONE, None  # deleted before we got here; its removal event cleans up
    if _superseded(event, head):
        return SUPERSEDED, None  # a newer version exists; its own event analyses it
    if event.key.endswith("/") and data == b"":
        return IGNORED, None  # an empty "folder" marker (the S3 console's Create folder)
    version_tag = head.version_id or head.etag
    claimed = rt.table.claim(
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
        if existing.get("status") in t.FINAL_STATUSES and existing.get("version_tag") == version_tag:
            return DUPLICATE, None
        doing = "removed" if int(existing.get("removal_expires") or 0) >= int(rt.clock()) else "analysed"
        raise TransientError(f"{event.key} is being {doing} by another invocation; retrying later")
    current_tag = _current_tag(event, rt)
    if current_tag != version_tag:
        # Uploaded over (or deleted) between our read and our claim: our claim may have displaced the
        # newer version's record or claim, so put it back; the newer version's own event analyses it.
        rt.table.restore(claimed)
        return (GONE if current_tag is None else SUPERSEDED), None
    info = ImageInfo(event.bucket, event.key, head.version_id, head.etag, head.size)
    try:
        result = _result(info, data, rt, use_cache=not event.force)
        stored = _store(result, claimed, version_tag, rt)
    except (TransientError, ConfigurationError) as exc:
        rt.table.release(claimed, rt.now_iso(), str(exc))
        raise
    if not stored:
        return _claim_lost(event, version_tag, rt), None
    return result.status, result


def _current_tag(event: S3Event, rt: Runtime) -> str | None:
    current = s3store.head(rt.s3, event.bucket, event.key)
    return None if current is None else current.version_id or current.etag


def _claim_lost(event: S3Event, version_tag: str, rt: Runtime) -> str:
    """Our finished analysis could not be committed: someone else holds the key. Acknowledge only when
    that is rightful (the image was replaced or deleted, or a duplicate delivery finished this same
    version); otherwise the analysis must be redone, so the message is retried."""
    if _current_tag(event, rt) != version_tag:
        return SUPERSEDED
    record = rt.table.get(event.key)
    if record and record.get("status") in t.FINAL_STATUSES and record.get("version_tag") == version_tag:
        return DUPLICATE
    raise TransientError(f"{event.key}: lost the claim before committing the result; analysing again")


def _superseded(event: S3Event, head: s3store.ObjectHead) -> bool:
    if event.version_id and head.version_id:
        return event.version_id != head.version_id
    return bool(event.etag and head.etag and event.etag != head.etag)


def _result(info: ImageInfo, data: bytes | None, rt: Runtime, use_cache: bool) -> ImageResult:
    settings = rt.settings
    fingerprint = settings.analysis_fingerprint
    base = ImageResult(
        image=info, status=t.FAILED, processed_at=rt.now_iso(), settings_fingerprint=fingerprint
    )
    if data is None:
        limit = settings.max_image_bytes / 1e6
        return _rejected(
            base,
            ImageRejected(
                "too_large",
                f"the file is {info.size_bytes / 1e6:.1f} MB; the limit is {limit:.0f} MB (MAX_IMAGE_BYTES)",
            ),
            settings,
        )
    try:
        rt.layout.json_key(info.key)
    except ImageRejected as exc:
        return _rejected(base, exc, settings)
    sha = hashlib.sha256(data).hexdigest()
    base = replace(base, image=replace(info, sha256=sha))
    cached = rt.table.cached_analyses(sha, fingerprint) if use_cache else None
    if cached is not None:
        payload, source_key = cached
        image = replace(
            base.image, format=payload["format"], width=payload["width"], height=payload["height"]
        )
        analyses = analyses_from_dict(payload["analyses"])
        return replace(base, image=image, status=_status(analyses), analyses=analyses, reused_from=source_key)
    try:
        prepared = imaging.prepare(data, _limits(settings))
    except ImageRejected as exc:
        return _rejected(base, exc, settings)
    analyses = analyse(prepared, settings, rt.ai, rt.executor)
    image = replace(base.image, format=prepared.source_format, width=prepared.width, height=prepared.height)
    status = _status(analyses)
    if status == t.COMPLETE:
        payload = {
            "analyses": asdict(analyses),
            "format": image.format,
            "width": image.width,
            "height": image.height,
        }
        expires = int(rt.clock()) + settings.content_cache_days * 86400
        rt.table.cache_analyses(sha, fingerprint, payload, info.key, expires)
    return replace(
        base,
        image=image,
        status=status,
        analyses=analyses,
        cost=estimate_cost(analyses, settings),
        notes=list(prepared.notes),
    )


def _rejected(base: ImageResult, exc: ImageRejected, settings: Settings) -> ImageResult:
    """A refusal, with what was read before it (format, size, notes, the GPS place), if anything."""
    failed = replace(base, status=t.FAILED, error={"code": exc.code, "message": exc.message})
    seen = exc.seen
    if seen is None:
        return failed
    image = replace(base.image, format=seen.format, width=seen.width, height=seen.height)
    gps = placed_gps(seen.gps, settings)
    return replace(failed, image=image, analyses=Analyses(gps=gps), notes=list(seen.notes))


def _status(analyses: Analyses) -> str:
    failed = any(outcome.status == FAILED for outcome in analyses.outcomes.values())
    return t.PARTIAL if failed else t.COMPLETE


def _limits(settings: Settings) -> imaging.Limits:
    return imaging.Limits(
        max_pixels=settings.max_image_pixels,
        min_edge=settings.min_image_edge,
        bedrock_max_edge=settings.bedrock_max_edge,
        rekognition_max_edge=settings.rekognition_max_edge,
    )


def _store(result: ImageResult, claim: Claim, version_tag: str, rt: Runtime) -> bool:
    """Results to S3 first, then the record; if the claim was lost meanwhile, undo our S3 writes and
    return False."""
    key, bucket = result.image.key, result.image.bucket
    documents: dict[str, tuple[bytes, str]] = {}
    if result_keys_fit(rt.layout, key):  # else the record alone carries the key_too_long failure
        documents = {
            rt.layout.json_key(key): (_json(result), "application/json"),
            rt.layout.text_key(key): (render_text(result).encode(), "text/plain; charset=utf-8"),
        }
    written = s3store.write_results(rt.s3, bucket, documents)
    record = record_from_result(result, rt.layout, version_tag, rt.now_iso())
    if rt.table.finish(claim, record, label_index(result)):
        return True
    s3store.undo_writes(rt.s3, bucket, written)
    return False


def _json(result: ImageResult) -> bytes:
    return json.dumps(result.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")
