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

from imgpipe.report import PAGE_SIZE, make_thumbnail, render_report
from tests.cli.test_report_render import (
    GREY,
    GREY_KEY,
    YELLOW,
    analysed,
    box_rect,
    close,
    grey_with_object,
    locate,
    pixel_at,
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


def test_simulated_and_not_analysed_states_in_the_browser(chromium: str, tmp_path: Path) -> None:
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


# --------------------------------------------------------------------------- hundreds of images, pages

MANY = 2 * PAGE_SIZE + 34


def test_hundreds_of_images_come_a_page_at_a_time(chromium: str, tmp_path: Path) -> None:
    base = analysed(GREY_KEY, grey_with_object())
    results = [replace(base, image=replace(base.image, key=f"many/{n:04d}.jpg")) for n in range(MANY)]
    thumbnail = make_thumbnail(grey_with_object())
    assert thumbnail is not None
    _, page = render_report(results, {r.image.key: thumbnail for r in results}, generated_at="now")
    assert page.count(' src="data:image/jpeg') == PAGE_SIZE  # only the first page's thumbnails load
    assert page.count(' data-src="data:image/jpeg') == MANY - PAGE_SIZE
    url = write_page(tmp_path, page).as_uri()
    for fragment, first, count in (
        ("", 0, PAGE_SIZE),
        ("#page=2", PAGE_SIZE, PAGE_SIZE),
        ("#page=3", 2 * PAGE_SIZE, 34),
    ):
        dom = run_chromium(chromium, tmp_path, url + fragment, "--dump-dom")
        cards = re.findall(r'<article class="card"([^>]*)>(.*?)</article>', dom, re.DOTALL)
        shown = [body for attributes, body in cards if " hidden" not in attributes]
        assert len(cards) == MANY and len(shown) == count, fragment
        assert f'title="many/{first:04d}.jpg"' in shown[0], fragment
        assert all(' src="data:image/jpeg' in body for body in shown), "a shown card has its thumbnail"
        assert f"Page {first // PAGE_SIZE + 1} of 3" in dom and f"Showing {MANY} of {MANY} images" in dom
    # Later pages are loaded when shown, not before: on page 3, page 2's cards still wait.
    assert sum(' data-src="data:image/jpeg' in body for _, body in cards) == PAGE_SIZE


def test_box_labels_never_cover_the_picture(chromium: str, tmp_path: Path) -> None:
    result = analysed(GREY_KEY, grey_with_object())
    thumbnail = make_thumbnail(grey_with_object())
    assert thumbnail is not None
    _, page = render_report([result], {GREY_KEY: thumbnail}, generated_at="now")
    path = write_page(tmp_path, page)
    dom = run_chromium(chromium, tmp_path, path.as_uri(), "--dump-dom")
    caption = re.search(r'<ul class="boxed"[^>]*>(.*?)</ul>', dom, re.DOTALL)
    assert caption is not None and "Object 97%" in caption.group(1)  # named under the picture...
    shot_path = tmp_path / "shot.png"
    run_chromium(chromium, tmp_path, path.as_uri(), f"--screenshot={shot_path}")
    with Image.open(shot_path) as shot:
        rgb = shot.convert("RGB")
    frame = locate(rgb, GREY)
    (box,) = next(label for label in result.analyses.labels if label.name == "Object").instances
    x0, y0, x1, y1 = box_rect(frame, box)
    # ...and where a tag used to sit, the box's top-left corner inside the outline, the picture shows.
    corner = [
        (x, y)
        for x in range(round(x0) + 5, round(x0) + 60, 3)
        for y in range(round(y0) + 5, round(y0) + 18, 3)
    ]
    assert all(close(pixel_at(rgb, x, y), YELLOW, 30) for x, y in corner)
    assert x1 > x0 + 60 and y1 > y0 + 18
