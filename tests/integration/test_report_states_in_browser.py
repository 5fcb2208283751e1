"""Issue 13: the report as headless Chromium draws it, for results the simulated AI services produced and
for images whose analyses never ran: both states are visible on the page, not only in its source."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

from image_analysis.domain.models import SIMULATED_NOTICE, Analyses, AnalysisOutcome, ImageResult
from image_analysis.domain.states import AnalysisStatus
from PIL import Image

from imgpipe.report import make_thumbnail, render_report
from tests.cli.test_report_render import (  # noqa: F401 - chromium is a fixture
    GREY_KEY,
    analysed,
    chromium,
    close,
    grey_with_object,
    run_chromium,
    write_page,
)

SKIPPED_KEY = "plain/not-analysed.jpg"
SIMULATED_BADGE = (0x5B, 0x2A, 0x86)


def pages(tmp_path: Path) -> tuple[list[ImageResult], Path]:
    simulated = replace(analysed(GREY_KEY, grey_with_object()), simulated=True)
    skipped = replace(
        analysed(SKIPPED_KEY, grey_with_object()),
        analyses=Analyses(
            outcomes={
                name: AnalysisOutcome(AnalysisStatus.SKIPPED, "switched off")
                for name in ("location", "labels", "text", "moderation")
            }
        ),
    )
    results = [simulated, skipped]
    thumbnail = make_thumbnail(grey_with_object())
    assert thumbnail is not None
    _, page = render_report(results, {GREY_KEY: thumbnail, SKIPPED_KEY: thumbnail}, generated_at="now")
    return results, write_page(tmp_path, page)


def visible_text(dom: str, key: str) -> str:
    card = re.search(
        r'<article class="card"[^>]*>((?:(?!</article>).)*' + re.escape(key) + ".*?)</article>", dom, re.S
    )
    assert card is not None, key
    return html.unescape(re.sub(r"<[^>]+>", " ", card.group(1)))


def test_simulated_and_not_analysed_states_in_the_browser(chromium: str, tmp_path: Path) -> None:  # noqa: F811
    _, page = pages(tmp_path)
    dom = run_chromium(chromium, tmp_path, page.as_uri(), "--dump-dom")
    assert "Showing 2 of 2 images" in dom  # the page's script ran
    assert f"1 of 2 image(s): {SIMULATED_NOTICE}" in html.unescape(dom)
    simulated, skipped = visible_text(dom, GREY_KEY), visible_text(dom, SKIPPED_KEY)
    assert "SIMULATED" in simulated and "SIMULATED" not in skipped
    # location, labels, text and moderation each say they never ran, and why
    assert " ".join(skipped.split()).count("not analysed (switched off)") == 4, skipped
    assert "none found" not in skipped
    shot_path = tmp_path / "shot.png"
    run_chromium(chromium, tmp_path, page.as_uri(), f"--screenshot={shot_path}")
    with Image.open(shot_path) as shot:
        rgb = shot.convert("RGB")
        badge = sum(
            1
            for x in range(0, rgb.width, 2)
            for y in range(0, rgb.height, 2)
            if close(rgb.getpixel((x, y)), SIMULATED_BADGE, 12)  # type: ignore[arg-type]
        )
    assert badge > 50, "the SIMULATED badge and notice are drawn"
