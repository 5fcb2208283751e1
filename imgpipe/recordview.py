"""How a record's answers read in a terminal table: an empty answer says whether the analysis ran and
found nothing or never ran (and why), and a simulated analysis says so.

Records carry `outcomes` (analysis name -> status and reason) since issue 13; for older records the
difference cannot be told and an empty answer stays empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from image_analysis.domain.models import AnalysisOutcome, not_analysed
from image_analysis.domain.states import AnalysisStatus, ImageStatus
from rich.table import Table

SIMULATED_MARK = "SIMULATED"


def outcome(record: dict[str, Any], name: str) -> AnalysisOutcome | None:
    raw = (record.get("outcomes") or {}).get(name)
    if not raw:
        return None
    return AnalysisOutcome(AnalysisStatus(raw["status"]), raw.get("reason"))


def why_empty(record: dict[str, Any], name: str) -> str:
    """What to show instead of an empty answer of analysis `name`."""
    if record.get("status") == ImageStatus.FAILED:
        return "not analysed (image refused)"
    if "outcomes" not in record:
        return ""  # a record written before outcomes were recorded: cannot tell
    why = not_analysed(outcome(record, name))
    return f"not analysed ({why})" if why else "none found"


def answer(record: dict[str, Any], name: str, value: str) -> str:
    return value or why_empty(record, name)


def status_cell(record: dict[str, Any]) -> str:
    status = str(record.get("status", ""))
    return f"{status} ({SIMULATED_MARK})" if record.get("simulated") else status


def labels_cell(record: dict[str, Any], most: int) -> str:
    return answer(record, "labels", ", ".join(record.get("labels", [])[:most]))


def text_cell(record: dict[str, Any], width: int = 40) -> str:
    return answer(record, "text", (record.get("text") or "").split("\n")[0][:width])


def location_cell(record: dict[str, Any]) -> str:
    """Claude's location, else the GPS place, else why the image failed or the location is missing; and
    what the GPS and the model disagree on, when they do."""
    place = ", ".join(p for p in (record.get("city"), record.get("country")) if p)
    found = record.get("location") or (f"near {place} (GPS)" if place else "")
    conflict = record.get("location_conflict_reason") if record.get("location_conflict") else None
    shown = found or record.get("error_message") or why_empty(record, "location")
    return f"{shown} [conflict: {conflict}]" if conflict else shown


def caption_cell(record: dict[str, Any]) -> str:
    """The caption of what the photo shows (from the location call), or why there is none."""
    return answer(record, "location", record.get("caption") or "")


NARROW = 100  # below this many columns, one image takes a few lines instead of one wide row


def records_table(
    records: list[dict[str, Any]], shown_key: Callable[[str], str], width: int, *, title: str | None = None
) -> Table:
    """The records as a table that fits `width` columns: one row of seven columns on a wide terminal,
    or, below NARROW, two columns (the image; what was found) so that nothing is squeezed to a few
    characters and words are never cut."""
    table = Table(title=title, show_lines=width < NARROW)
    if width < NARROW:
        table.add_column("image", overflow="fold", ratio=2)
        table.add_column("found", overflow="fold", ratio=3)
        for record in records:
            table.add_row(
                "\n".join((shown_key(record["image_key"]), status_cell(record), _when(record))).strip(),
                "\n".join(
                    line
                    for line in (
                        f"labels: {labels_cell(record, 4)}",
                        f"location: {location_cell(record)}",
                        f"caption: {caption_cell(record)}",
                        f"text: {text_cell(record)}",
                        "" if record.get("face_count") is None else f"faces: {record['face_count']}",
                        "flagged by moderation" if record.get("flagged") else "",
                        "personal information in its text" if record.get("has_pii") else "",
                    )
                    if line
                ),
            )
        return table
    table.add_column("image", no_wrap=True, overflow="fold")  # a key on one line, unless it cannot fit
    for column in ("status", "analysed (UTC)", "labels", "location", "caption", "text", "faces", "flagged"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            shown_key(record["image_key"]),
            status_cell(record),
            _when(record),
            labels_cell(record, 4),
            location_cell(record),
            caption_cell(record),
            text_cell(record),
            "" if record.get("face_count") is None else str(record["face_count"]),
            flags_cell(record),
        )
    return table


def flags_cell(record: dict[str, Any]) -> str:
    flags = ("yes" if record.get("flagged") else "", "PII" if record.get("has_pii") else "")
    return ", ".join(flag for flag in flags if flag)


def _when(record: dict[str, Any]) -> str:
    return (record.get("updated_at") or "")[:16].replace("T", " ")


CSV_COLUMNS = (
    "image",
    "status",
    "simulated",
    "analysed_utc",
    "labels",
    "location",
    "city",
    "country",
    "location_conflict",
    "caption",
    "alt_text",
    "keywords",
    "latitude",
    "longitude",
    "text",
    "flagged",
    "faces",
    "language",
    "pii_types",
    "not_analysed",
    "error",
    "image_key",
)


def csv_row(record: dict[str, Any], shown_key: Callable[[str], str]) -> dict[str, Any]:
    """One record as a CSV row (CSV_COLUMNS): lists joined with '; ', the analyses that did not run
    with why (`labels: switched off`), and the full text (CSV quotes its line breaks)."""
    skipped = [
        f"{name}: {why}"
        for name in sorted(record.get("outcomes") or {})
        if (why := not_analysed(outcome(record, name)))
    ]
    error = record.get("error_message")
    return {
        "image": shown_key(record["image_key"]),
        "status": record.get("status", ""),
        "simulated": "yes" if record.get("simulated") else "",
        "analysed_utc": record.get("updated_at") or "",
        "labels": "; ".join(record.get("labels", [])),
        "location": record.get("location") or "",
        "city": record.get("city") or "",
        "country": record.get("country") or "",
        "location_conflict": record.get("location_conflict_reason") or "",
        "caption": record.get("caption") or "",
        "alt_text": record.get("alt_text") or "",
        "keywords": "; ".join(record.get("keywords", [])),
        "latitude": "" if record.get("latitude") is None else record["latitude"],
        "longitude": "" if record.get("longitude") is None else record["longitude"],
        "text": record.get("text") or "",
        "flagged": "yes" if record.get("flagged") else "",
        "faces": "" if record.get("face_count") is None else record["face_count"],
        "language": record.get("language") or "",
        "pii_types": "; ".join(record.get("pii_types", [])),  # types only: never the values
        "not_analysed": "; ".join(skipped),
        "error": f"{record.get('error_code')}: {error}" if error else "",
        "image_key": record["image_key"],
    }
