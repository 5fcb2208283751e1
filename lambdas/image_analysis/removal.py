"""One removal event: the image's results and record go, never a newer upload's.

Existence first (re-uploaded since: stand down), then the removal lock, which no analysis can claim
past, then existence again, then the deletes (faces, vector, results, record). See
docs/architecture.md on the removal lock.
"""

from __future__ import annotations

import uuid

from .adapters.claims import Busy
from .domain.errors import ConfigurationError, TransientError
from .domain.intake import S3Event
from .domain.records import result_keys_fit
from .domain.states import EventOutcome
from .embedding import delete_vector
from .people import forget_faces, recorded_face_ids
from .runtime import Runtime


def remove(event: S3Event, rt: Runtime) -> EventOutcome:
    """Delete an image's results and record, never a newer upload's: see docs on the removal lock."""
    if rt.s3.exists(event.bucket, event.key):
        return EventOutcome.STALE_REMOVAL  # re-uploaded since: the newer upload's results must stay
    lock = rt.claims.lock_for_removal(
        event.key, uuid.uuid4().hex, int(rt.clock()), rt.settings.claim_timeout_s
    )
    if isinstance(lock, Busy):
        if rt.s3.exists(event.bucket, event.key):
            return EventOutcome.STALE_REMOVAL  # the analysis holding the key is the re-upload's
        raise TransientError(f"{event.key} is being analysed or removed by another invocation; retrying")
    try:
        if rt.s3.exists(event.bucket, event.key):  # re-uploaded before we held the key
            rt.claims.unlock_removal(lock)
            return EventOutcome.STALE_REMOVAL
        # Faces and the vector first, while the lock holds: a crash after them leaves a record the
        # retry deletes.
        forget_faces(recorded_face_ids(rt.claims.get(event.key), plain=True), rt)
        delete_vector(event.key, rt)
        if result_keys_fit(rt.layout, event.key):  # else it never had results in S3
            result_keys = [rt.layout.json_key(event.key), rt.layout.text_key(event.key)]
            rt.s3.delete_results(event.bucket, result_keys)
        rt.claims.delete_image(lock)
    except (TransientError, ConfigurationError):
        rt.claims.unlock_removal(lock)
        raise
    return EventOutcome.REMOVED
