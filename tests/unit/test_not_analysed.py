"""Issue 13, item 2: an analysis that never ran is never shown as one that found nothing, and a result
the simulated AI services produced says so wherever it is read (.txt, JSON, record, report, tables)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from image_analysis.analysis import analysis_fingerprint
from image_analysis.domain.keys import KeyLayout
from image_analysis.domain.models import (
    SIMULATED_NOTICE,
    Analyses,
    AnalysisOutcome,
    ImageError,
    ImageInfo,
    ImageResult,
    Label,
    Location,
    not_analysed,
    render_text,
)
from image_analysis.domain.records import record_from_result
from image_analysis.domain.states import AnalysisStatus, ImageStatus
from image_analysis.settings import Settings

from imgpipe.report import empty_answer, render_report
from infra.config import ConfigError, from_context

OK, SKIPPED, FAILED = AnalysisStatus.OK, AnalysisStatus.SKIPPED, AnalysisStatus.FAILED
INFO = ImageInfo(bucket="b", key="images/a.jpg", version_id="v", etag="e", size_bytes=10)


def result(outcomes: dict[str, AnalysisOutcome], **analyses: object) -> ImageResult:
    return ImageResult(
        image=INFO,
        status=ImageStatus.COMPLETE,
        processed_at="2026-03-01T12:00:00Z",
        settings_fingerprint="f",
        analyses=Analyses(outcomes=outcomes, **analyses),  # type: ignore[arg-type]
    )


RAN_EMPTY = result({n: AnalysisOutcome(OK) for n in ("labels", "text", "moderation")})
SWITCHED_OFF = result({n: AnalysisOutcome(SKIPPED, "switched off") for n in ("location", "labels", "text")})
REFUSED = replace(RAN_EMPTY, status=ImageStatus.FAILED, error=ImageError("truncated", "truncated JPEG"))


def test_not_analysed_names_the_reason_and_none_means_it_ran() -> None:
    assert not_analysed(AnalysisOutcome(OK)) is None
    assert not_analysed(AnalysisOutcome(SKIPPED, "switched off")) == "switched off"
    assert not_analysed(AnalysisOutcome(FAILED, "ThrottlingException")) == "failed: ThrottlingException"
    assert not_analysed(AnalysisOutcome(SKIPPED)) == "skipped"
    assert not_analysed(None) == "not run"


def test_text_says_none_found_only_for_analyses_that_ran() -> None:
    ran = render_text(RAN_EMPTY).splitlines()
    assert "Labels: none found" in ran and "Text: none found" in ran
    skipped = render_text(SWITCHED_OFF).splitlines()
    assert not any(line.startswith(("Labels:", "Text:")) for line in skipped)
    assert "labels: skipped (switched off)" in skipped and "text: skipped (switched off)" in skipped
    assert skipped[0] == "Location not analysed (switched off)"


def test_a_simulated_result_says_so_in_its_text_json_and_record() -> None:
    location = Location("Gray scene", None, None, None, None, 0.5, "simulated.imgpipe-ai-services")
    simulated = replace(
        result({"location": AnalysisOutcome(OK), "labels": AnalysisOutcome(OK)}, location=location),
        analyses=replace(RAN_EMPTY.analyses, location=location, labels=[Label("Gray", 90.0)]),
        simulated=True,
    )
    lines = render_text(simulated).splitlines()
    assert lines[0] == "SIMULATED AI: Gray scene" and lines[-1] == SIMULATED_NOTICE
    document = simulated.to_dict()
    assert document["simulated"] is True
    assert ImageResult.from_dict(document) == simulated
    assert ImageResult.from_dict({**document, "simulated": None}).simulated is False  # older documents
    layout = KeyLayout("images/", "results/")
    record = record_from_result(simulated, layout, "v", "2026-03-01T12:00:01Z")
    assert record["simulated"] is True
    assert record_from_result(RAN_EMPTY, layout, "v", "t")["simulated"] is None  # not written (to_item)
    assert "SIMULATED" not in render_text(RAN_EMPTY)


def test_the_record_keeps_each_analysis_outcome_and_reason() -> None:
    record = record_from_result(SWITCHED_OFF, KeyLayout("images/", "results/"), "v", "t")
    assert record["outcomes"] == {
        name: {"status": "skipped", "reason": "switched off"} for name in ("location", "labels", "text")
    }
    assert record_from_result(RAN_EMPTY, KeyLayout("images/", "results/"), "v", "t")["outcomes"][
        "labels"
    ] == {"status": "ok"}


def test_simulated_analyses_have_their_own_fingerprint() -> None:
    real = Settings(results_table="t", vector_bucket="v", vector_index="i")
    assert analysis_fingerprint(replace(real, simulated_ai=True)) != analysis_fingerprint(real)
    assert Settings.from_env(
        {"RESULTS_TABLE": "t", "SIMULATED_AI": "true", "ENABLE_EMBEDDINGS": "false"}
    ).simulated_ai


def test_a_stack_cannot_be_configured_as_simulated() -> None:
    with pytest.raises(ConfigError, match="simulated_ai cannot be set"):
        from_context({"simulated_ai": True})
    assert from_context({}).settings.simulated_ai is False


def test_report_distinguishes_not_analysed_and_marks_simulated_results() -> None:
    assert empty_answer(RAN_EMPTY, "labels") == "none found"
    assert empty_answer(SWITCHED_OFF, "labels") == "not analysed (switched off)"
    assert empty_answer(REFUSED, "text") == "not analysed (image refused)"
    simulated = replace(RAN_EMPTY, image=replace(INFO, key="images/b.jpg"), simulated=True)
    markdown, page = render_report([SWITCHED_OFF, simulated], {}, generated_at="now")
    assert f"> **1 of 2 image(s): {SIMULATED_NOTICE}**" in markdown
    first, second = markdown.split("\n### ")[1:]
    assert "- **Labels:** not analysed (switched off)" in first and "SIMULATED" not in first
    assert "- **Labels:** none found" in second and "- **Answers:** SIMULATED" in second
    assert page.count('<span class="badge simulated">SIMULATED</span>') == 1
    assert 'class="simulated-notice"' in page
    plain, plain_page = render_report([SWITCHED_OFF], {}, generated_at="now")
    assert "SIMULATED" not in plain and "SIMULATED" not in plain_page
