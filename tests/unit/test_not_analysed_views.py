"""Issue 13, item 2, in the CLI's tables: an empty answer says whether the analysis ran and found
nothing or never ran, and a simulated record is marked (imgpipe/recordview.py)."""

from __future__ import annotations

import pytest

# The CLI's code: .venv313 (the Lambda's unit tests on CPython 3.13) has the function's requirements only.
recordview = pytest.importorskip(
    "imgpipe.recordview", reason="needs rich, a CLI requirement, not the Lambda's"
)


@pytest.mark.parametrize(
    ("record", "shown"),
    [
        ({"status": "complete", "labels": [], "outcomes": {"labels": {"status": "ok"}}}, "none found"),
        (
            {
                "status": "complete",
                "labels": [],
                "outcomes": {"labels": {"status": "skipped", "reason": "x"}},
            },
            "not analysed (x)",
        ),
        ({"status": "partial", "labels": [], "outcomes": {}}, "not analysed (not run)"),
        ({"status": "failed", "labels": []}, "not analysed (image refused)"),
        ({"status": "complete", "labels": []}, ""),  # a record older than outcomes: cannot tell
        ({"status": "complete", "labels": ["Dog", "Cat"], "outcomes": {}}, "Dog, Cat"),
    ],
)
def test_table_cells_tell_not_analysed_from_nothing_found(record: dict[str, object], shown: str) -> None:
    assert recordview.labels_cell(record, 3) == shown


def test_table_cells_mark_simulated_records() -> None:
    assert recordview.status_cell({"status": "complete", "simulated": True}) == "complete (SIMULATED)"
    assert recordview.status_cell({"status": "complete"}) == "complete"
