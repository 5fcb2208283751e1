"""From a result document to the DynamoDB record analysts query (fields listed in docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from . import table as t
from .errors import ImageRejected
from .keys import KeyLayout
from .models import ImageResult
from .states import AnalysisStatus

MAX_LABEL_ITEMS = 40  # label + parent names indexed per image; keeps the final transaction < 100 items
MAX_TEXT_CHARS = 2000


def record_from_result(
    result: ImageResult, layout: KeyLayout, version_tag: str, updated_at: str
) -> dict[str, Any]:
    a = result.analyses
    key = result.image.key
    location, gps = a.location, a.gps
    text = "\n".join(line.text for line in a.text)[:MAX_TEXT_CHARS]
    record: dict[str, Any] = {
        "image_key": key,
        "bucket": result.image.bucket,
        "status": result.status,
        "version_tag": version_tag,
        "sha256": result.image.sha256,
        "size_bytes": result.image.size_bytes,
        "processed_at": result.processed_at,
        "updated_at": updated_at,
        "result_key": layout.json_key(key) if result_keys_fit(layout, key) else None,
        "text_key": layout.text_key(key) if result_keys_fit(layout, key) else None,
        "location": location.description if location else None,
        "place": location.place if location else None,
        "city": (location.city if location else None) or (gps.place.city if gps and gps.place else None),
        "country": (location.country if location else None)
        or (gps.place.country if gps and gps.place else None),
        "latitude": gps.latitude if gps else None,
        "longitude": gps.longitude if gps else None,
        "labels": [label.name for label in a.labels],
        "text": text or None,
        "text_lc": text.lower() or None,
        "flagged": result.flagged,
        "moderation": [m.name for m in a.moderation.labels] if a.moderation else [],
        "face_count": len(a.faces) if _ran(result, "faces") else None,  # unknown unless detection ran
        "language": a.comprehension.language if a.comprehension else None,
        "has_pii": result.has_pii,
        "pii_types": a.comprehension.pii_types if a.comprehension else [],  # types, never the values
        "face_ids": [face.face_id for face in a.people],  # in the people collection (removal deletes)
        "error_code": result.error.code if result.error else None,
        "error_message": result.error.message if result.error else None,
        "reused_from": result.reused_from,
        # How each analysis went, so an empty answer that was never asked for is not read as "nothing found"
        "outcomes": {
            name: {"status": o.status.value, **({"reason": o.reason} if o.reason else {})}
            for name, o in a.outcomes.items()
        },
        "simulated": True if result.simulated else None,  # absent for real analyses
        "input_tokens": result.cost.input_tokens,
        "output_tokens": result.cost.output_tokens,
        "cost_usd": result.cost.estimated_usd,
        "settings_fingerprint": result.settings_fingerprint,
        "schema_version": result.schema_version,
        t.BY_STATUS.partition_key: t.status_pk(result.status),
        t.BY_STATUS.sort_key: t.time_sort_key(updated_at, key),
    }
    if result.flagged:  # sparse index: only flagged images appear in it
        record[t.FLAGGED.partition_key] = t.FLAGGED_PK
        record[t.FLAGGED.sort_key] = t.time_sort_key(updated_at, key)
    if result.has_pii:  # sparse index: only images showing personal information appear in it
        record[t.PII.partition_key] = t.PII_PK
        record[t.PII.sort_key] = t.time_sort_key(updated_at, key)
    return record


def _ran(result: ImageResult, analysis: str) -> bool:
    outcome = result.analyses.outcomes.get(analysis)
    return outcome is not None and outcome.status == AnalysisStatus.OK


def result_keys_fit(layout: KeyLayout, image_key: str) -> bool:
    try:
        layout.text_key(image_key)
        layout.json_key(image_key)
    except ImageRejected:
        return False
    return True


def label_index(result: ImageResult) -> dict[str, float]:
    """Label and parent names -> best confidence, so 'Vehicle' finds the image labelled 'Car'."""
    best: dict[str, float] = {}
    for label in result.analyses.labels:
        for name in (label.name, *label.parents):
            normalised = t.normalise_label(name)
            if normalised and label.confidence > best.get(normalised, -1.0):
                best[normalised] = label.confidence
    ranked = sorted(best.items(), key=lambda item: -item[1])[:MAX_LABEL_ITEMS]
    return dict(ranked)


# S3 Vectors keeps at most 2 KB of filterable metadata per vector: ten labels of 64 characters at
# most, a version tag and a hash stay well inside it.
MAX_VECTOR_LABELS = 10
MAX_VECTOR_LABEL_CHARS = 64


def vector_metadata(result: ImageResult, version_tag: str) -> dict[str, Any]:
    """The metadata of an image's vector in the index: what a search filters on (status, flagged,
    labels as in the by-label index, has_text, has_pii), and what ties the vector to its record
    (version_tag: a hit whose record describes another version is stale; sha256: the bytes it is of,
    so identical bytes can reuse it)."""
    labels = [name[:MAX_VECTOR_LABEL_CHARS] for name in label_index(result)][:MAX_VECTOR_LABELS]
    metadata: dict[str, Any] = {
        "status": result.status.value,
        "flagged": result.flagged,
        "has_text": bool(result.analyses.text),
        "has_pii": result.has_pii,
        "version_tag": version_tag,
        "sha256": result.image.sha256 or "",
    }
    if labels:  # no empty list: a label filter then simply does not match
        metadata["labels"] = labels
    return metadata
