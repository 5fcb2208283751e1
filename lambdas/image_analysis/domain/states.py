"""The states things pass through, as StrEnums: each member equals the string stored in records, written
in result documents and logged, so `ImageStatus.COMPLETE == "complete"` and nothing stored changes."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias


class ImageStatus(StrEnum):
    """An image's record (and its result document, for the final three)."""

    COMPLETE = "complete"  # every switched-on analysis succeeded
    PARTIAL = "partial"  # at least one analysis failed permanently; the others stand
    FAILED = "failed"  # the image was refused (see ImageError.code)
    PROCESSING = "processing"  # claimed by an invocation (until its lease runs out)
    RETRYING = "retrying"  # released after a transient failure; the redelivery claims it again


FINAL_STATUSES = (ImageStatus.COMPLETE, ImageStatus.PARTIAL, ImageStatus.FAILED)
ALL_STATUSES = (*FINAL_STATUSES, ImageStatus.PROCESSING, ImageStatus.RETRYING)


class AnalysisStatus(StrEnum):
    """How one analysis of an image went (AnalysisOutcome.status)."""

    OK = "ok"
    SKIPPED = "skipped"  # switched off, gated (moderation) or nothing to read (no GPS)
    FAILED = "failed"  # refused for this image, or a retryable failure (the message is retried)


class EventOutcome(StrEnum):
    """What happened to an S3 event that produced no analysis (for logs, metrics and tests); an event
    that did produce one ends with the image's ImageStatus instead."""

    IGNORED = "ignored"  # outside the input prefix, the pipeline's own output, or a folder marker
    GONE = "gone"  # deleted before it was read; its removal event cleans up
    SUPERSEDED = "superseded"  # a newer version exists; its own event analyses it
    DUPLICATE = "duplicate"  # this version was finished already (a repeated delivery)
    REMOVED = "removed"  # the image's results and record were deleted
    STALE_REMOVAL = "stale_removal"  # the key was uploaded again: the newer upload's results stay


Outcome: TypeAlias = EventOutcome | ImageStatus
