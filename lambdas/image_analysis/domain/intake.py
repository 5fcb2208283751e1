"""Intake: SQS message bodies -> the S3 events the pipeline acts on.

S3 delivers at least once, URL-encodes keys (`+` for spaces) and sends an `s3:TestEvent` when a
notification is configured. Backfill (imgpipe backfill) sends the same shape with its own event name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

CREATED: Literal["created"] = "created"
REMOVED: Literal["removed"] = "removed"
BACKFILL_EVENT = "imgpipe:Backfill"


class MalformedMessage(ValueError):
    """The message is not an S3 event notification; it goes to the DLQ for a person to look at."""


@dataclass(frozen=True)
class S3Event:
    kind: Literal["created", "removed"]
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    force: bool = False  # backfill --force: reprocess even if done
    # backfill: refresh the analyses whose settings changed since the record was made (fingerprints.py)
    refresh: bool = False
    # One version deleted for good (ObjectRemoved:Delete with a VersionId): an older version, or one
    # behind a deleted delete marker, may be current again.
    version_deleted: bool = False


def parse_body(body: str) -> list[S3Event]:
    """All actionable events in one message body; [] for test events and events we ignore."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"message body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise MalformedMessage("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise MalformedMessage("message has no S3 'Records' list")
    events = [_event(record) for record in records]
    return [e for e in events if e is not None]


def _event(record: Any) -> S3Event | None:
    try:
        name = str(record["eventName"])
        s3 = record["s3"]
        bucket = str(s3["bucket"]["name"])
        obj = s3["object"]
        key = unquote_plus(str(obj["key"]))
    except (KeyError, TypeError) as exc:
        raise MalformedMessage(f"S3 record lacks {exc}") from exc
    if name.startswith("ObjectCreated:") or name == BACKFILL_EVENT:
        kind: Literal["created", "removed"] = CREATED
    elif name.startswith("ObjectRemoved:"):
        kind = REMOVED
    else:
        return None  # restores, replication, lifecycle transitions: nothing to analyse
    return S3Event(
        kind=kind,
        bucket=bucket,
        key=key,
        version_id=obj.get("versionId") or None,
        etag=str(obj.get("eTag") or "").strip('"') or None,
        size=obj.get("size"),
        force=_backfill_option(record, "force") if name == BACKFILL_EVENT else False,
        refresh=_backfill_option(record, "refresh") if name == BACKFILL_EVENT else False,
        version_deleted=name == "ObjectRemoved:Delete" and bool(obj.get("versionId")),
    )


def _backfill_option(record: dict[str, Any], name: str) -> bool:
    options = record.get("imgpipe", {})
    if not isinstance(options, dict):
        raise MalformedMessage(f"backfill record's 'imgpipe' is not an object: {options!r}")
    return bool(options.get(name, False))
