"""How a record's answers read in a terminal table: an empty answer says whether the analysis ran and
found nothing or never ran (and why), and a simulated analysis says so.

Records carry `outcomes` (analysis name -> status and reason) since issue 13; for older records the
difference cannot be told and an empty answer stays empty.
"""

from __future__ import annotations

from typing import Any

from image_analysis.domain.models import AnalysisOutcome, not_analysed
from image_analysis.domain.states import AnalysisStatus, ImageStatus

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
    """Claude's location, else the GPS place, else why the image failed or the location is missing."""
    place = ", ".join(p for p in (record.get("city"), record.get("country")) if p)
    found = record.get("location") or (f"near {place} (GPS)" if place else "")
    return found or record.get("error_message") or why_empty(record, "location")
