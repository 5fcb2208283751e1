"""The report's faces and text understanding: face boxes in a colour of their own, beneath the label
and text boxes so they never cover a caption; entities and PII types (never PII values) in each card.
The screenshot test runs the page in headless Chromium, like test_report_render.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_analysis.domain.faces import Emotion, Face
from image_analysis.domain.language import Entity, PiiEntity, TextInsights
from image_analysis.domain.models import Analyses, Box, ImageInfo, ImageResult, Label, TextLine
from image_analysis.domain.states import ImageStatus
from PIL import Image

from imgpipe.report import FACE_BOX_COLOUR, LABEL_BOX_COLOUR, TEXT_BOX_COLOUR, make_thumbnail, render_report
from tests.cli.test_report_render import (
    assert_outline,
    box_rect,
    close,
    locate,
    pixel_at,
    rgb,
    run_chromium,
    write_page,
)
from tests.imagegen import BLUE, SKIN, portrait

FACE_BOX = Box(0.3, 0.25, 0.35, 0.45)  # leaves most of each row and column blue (locate)
KEY = "people/<b>card</b>.jpg"
RECEIPT = "PAID BY Jane Doe\nCARD 4111 1111 1111 1111"


def result() -> ImageResult:
    analyses = Analyses(
        labels=[Label("Person", 99.0, instances=[FACE_BOX])],  # its caption sits on the face box's corner
        text=[TextLine(line, 99.0) for line in RECEIPT.splitlines()],
        faces=[
            Face(FACE_BOX, 99.5, 25, 33, [Emotion("HAPPY", 92.5)], smile=True, eyes_open=True),
            Face(Box(0.02, 0.7, 0.1, 0.2), 95.0, sunglasses=True),
        ],
        comprehension=TextInsights(
            language="en",
            language_score=0.9,
            entities=[Entity("PERSON", "<i>Jane Doe</i>", 0.99)],
            key_phrases=["PAID BY Jane Doe"],
            pii=[PiiEntity("NAME", 0.99, 8, 16), PiiEntity("CREDIT_DEBIT_NUMBER", 0.99, 22, 41)],
        ),
    )
    return ImageResult(
        image=ImageInfo(bucket="photos", key=KEY, version_id=None, etag=None, size_bytes=1),
        status=ImageStatus.COMPLETE,
        processed_at="2026-12-01T00:00:00Z",
        settings_fingerprint="test",
        analyses=analyses,
    )


PICTURE = portrait([(FACE_BOX.left, FACE_BOX.top, FACE_BOX.width, FACE_BOX.height)], size=(400, 300))


@pytest.fixture(scope="module")
def page() -> tuple[str, str]:
    thumbnail = make_thumbnail(PICTURE)
    assert thumbnail is not None
    return render_report([result()], {KEY: thumbnail}, generated_at="2026-12-01 00:00 UTC")


def test_face_boxes_come_first_in_their_own_colour_without_a_caption(page: tuple[str, str]) -> None:
    _, html = page
    assert len({FACE_BOX_COLOUR, LABEL_BOX_COLOUR, TEXT_BOX_COLOUR}) == 3
    face, label = html.index('class="box face"'), html.index('class="box label"')
    assert face < label  # painted beneath (and z-index 0 against 1)
    first_face = html[face : html.index("</div>", face)]
    assert "tag" not in first_face and 'title="age 25-33, happy, smiling, eyes open"' in first_face
    assert html.count('class="box face"') == 2 and "swatch face" in html


def test_cards_show_faces_entities_and_pii_types_never_values(page: tuple[str, str]) -> None:
    markdown, html = page
    assert "<dt>Faces (2)</dt>" in html and "<li>sunglasses</li>" in html
    assert "<dt>PII</dt><dd>CREDIT_DEBIT_NUMBER, NAME</dd>" in html
    assert "&lt;i&gt;Jane Doe&lt;/i&gt; (person)" in html and "<i>Jane Doe</i>" not in html  # escaped
    assert "- **Faces:** 2 (age 25-33, happy, smiling, eyes open; sunglasses)" in markdown
    assert "- **PII:** CREDIT\\_DEBIT\\_NUMBER, NAME" in markdown
    assert "- **Language:** en" in markdown


def test_screenshot_draws_face_boxes_as_outlines_and_lists_them_under_the_picture(
    page: tuple[str, str],
    chromium: str,
    tmp_path: Path,
) -> None:
    png = tmp_path / "faces.png"
    run_chromium(chromium, tmp_path, write_page(tmp_path, page[1]).as_uri(), f"--screenshot={png}")
    with Image.open(png) as shot:
        screen = shot.convert("RGB")
    frame = locate(screen, BLUE)
    # The face box's right and bottom edges, where no label box runs, are the face colour; it is an
    # outline: the face still shows inside.
    x0, y0, x1, y1 = box_rect(frame, FACE_BOX)
    for t in (0.6, 0.8):
        right = [pixel_at(screen, x1 + d, y0 + t * (y1 - y0)) for d in range(-3, 4)]
        assert any(close(p, rgb(FACE_BOX_COLOUR)) or close(p, rgb(LABEL_BOX_COLOUR)) for p in right)
    assert close(pixel_at(screen, (x0 + x1) / 2, y0 + 0.55 * (y1 - y0)), SKIN, 40)
    # The small face (no label there) is outlined in the face colour alone
    assert_outline(screen, frame, Box(0.02, 0.7, 0.1, 0.2), rgb(FACE_BOX_COLOUR), inside=BLUE)
    # No tag is drawn on the picture: what each box is stands under it, the faces included
    assert '<li class="face">face ×2</li>' in page[1]
