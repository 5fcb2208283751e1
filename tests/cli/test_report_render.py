"""The report renderer (imgpipe/report.py): the Markdown summary, the self-contained HTML page, and the
page as headless Chromium draws it (the boxes must land on the objects the AI double found).

The results are not written by hand: each test image goes through the Rekognition adapter with the
wire-level double's answers, so the boxes are exactly where the double put them.
"""

from __future__ import annotations

import html
import io
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from image_analysis.adapters.rekognition import Rekognition
from image_analysis.domain.models import (
    Analyses,
    AnalysisOutcome,
    Box,
    Caption,
    Gps,
    ImageError,
    ImageInfo,
    ImageResult,
    Location,
    LocationConflict,
    Place,
    TextLine,
)
from image_analysis.domain.states import AnalysisStatus, ImageStatus
from PIL import Image, ImageChops, ImageDraw

from imgpipe.report import LABEL_BOX_COLOUR, TEXT_BOX_COLOUR, make_thumbnail, md_escape, render_report
from imgpipe.simulated import ai_answers
from tests import imagegen

GREY, YELLOW, WHITE = (150, 150, 150), (240, 230, 30), (255, 255, 255)
GREY_KEY = "shots/2024_summer *best* [v2].jpg"
RED_KEY = "phone/rotated <portrait>.jpg"
BROKEN_KEY = "broken/notes.txt.jpg"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"
GENERATED = "2025-06-01 12:00 UTC"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


# --------------------------------------------------------------------------- test images and results


def grey_with_object() -> bytes:
    """400x300 flat grey with a yellow object filling the middle (left/top 0.25, width/height 0.5)."""
    image = Image.new("RGB", (400, 300), GREY)
    ImageDraw.Draw(image).rectangle((100, 75, 299, 224), fill=YELLOW)
    return imagegen.encode(image, "JPEG", quality=95)


def red_rotated() -> bytes:
    """A red landscape JPEG stored sideways (EXIF orientation 6): upright it is a 320x480 portrait
    whose white marker ends up top right. The double answers for the upright image, and flags it."""
    return imagegen.jpeg((480, 320), imagegen.RED, orientation=6)


@dataclass
class DoubleRekognition:
    """A Rekognition client whose answers are the wire-level double's, computed from the same bytes."""

    facts: ai_answers.ImageFacts

    def detect_labels(self, **params: Any) -> dict[str, Any]:
        return ai_answers.detect_labels(self.facts, params.get("MaxLabels"), params.get("MinConfidence", 55))

    def detect_text(self, **params: Any) -> dict[str, Any]:
        return ai_answers.detect_text(self.facts, 0)

    def detect_moderation_labels(self, **params: Any) -> dict[str, Any]:
        return ai_answers.detect_moderation_labels(self.facts, params.get("MinConfidence", 50))


def analysed(key: str, data: bytes, **changes: Any) -> ImageResult:
    rekognition = Rekognition(DoubleRekognition(ai_answers.analyse(data)))  # type: ignore[arg-type]
    analyses = Analyses(
        labels=rekognition.detect_labels(data, 10, 50),
        text=rekognition.detect_text(data, 50),
        moderation=rekognition.detect_moderation(data, 50),
        outcomes={name: AnalysisOutcome(AnalysisStatus.OK) for name in ("labels", "text", "moderation")},
    )
    result = ImageResult(
        image=ImageInfo(bucket="photos", key=key, version_id=None, etag=None, size_bytes=len(data)),
        status=ImageStatus.COMPLETE,
        processed_at="2025-06-01T11:59:00Z",
        settings_fingerprint="test",
        analyses=analyses,
    )
    return replace(result, **changes)


@dataclass(frozen=True)
class Sample:
    results: list[ImageResult]
    thumbnails: dict[str, bytes]
    markdown: str
    html: str


@pytest.fixture(scope="module")
def sample() -> Sample:
    grey = analysed(GREY_KEY, grey_with_object())
    grey = replace(
        grey,
        analyses=replace(
            grey.analyses,
            gps=Gps(48.85837, 2.29448, place=Place("Paris", "Île-de-France", "France", "FR", 0.4)),
        ),
    )
    red = analysed(RED_KEY, red_rotated())
    red = replace(
        red,
        status=ImageStatus.PARTIAL,
        analyses=replace(
            red.analyses,
            text=[],
            location=Location("A red wall in Lisbon, Portugal", None, "Lisbon", None, "Portugal", 0.7, "m"),
            outcomes={
                **red.analyses.outcomes,
                "text": AnalysisOutcome(AnalysisStatus.FAILED, "ThrottlingException"),
            },
        ),
    )
    broken = ImageResult(
        image=ImageInfo(bucket="photos", key=BROKEN_KEY, version_id=None, etag=None, size_bytes=42),
        status=ImageStatus.FAILED,
        processed_at="2025-06-01T11:59:00Z",
        settings_fingerprint="test",
        error=ImageError("ImageRejected", "not an image Pillow can decode"),
    )
    sources = {GREY_KEY: grey_with_object(), RED_KEY: red_rotated(), BROKEN_KEY: b"Shopping list\n"}
    thumbnails = {key: thumb for key, data in sources.items() if (thumb := make_thumbnail(data))}
    results = [grey, red, broken]
    markdown, page = render_report(results, thumbnails, title="Holiday photos", generated_at=GENERATED)
    return Sample(results, thumbnails, markdown, page)


# --------------------------------------------------------------------------- thumbnails


def test_make_thumbnail_applies_exif_orientation_and_size_limit() -> None:
    thumb = make_thumbnail(red_rotated(), max_edge=240)
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG"
        assert image.size == (160, 240)  # upright portrait
        marker = image.convert("RGB").getpixel((140, 25))  # the white marker is now top right
        assert marker is not None and min(marker) > 200  # type: ignore[type-var]


def test_make_thumbnail_flattens_alpha_onto_white() -> None:
    image = Image.new("RGBA", (64, 32), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((0, 0, 31, 31), fill=(20, 40, 220, 255))
    thumb = make_thumbnail(imagegen.encode(image, "PNG"))
    assert thumb is not None
    with Image.open(io.BytesIO(thumb)) as decoded:
        assert decoded.size == (64, 32)  # never enlarged
        left, right = decoded.getpixel((10, 16)), decoded.getpixel((54, 16))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[2] > 180 and left[0] < 60
    assert min(right) > 240  # transparent became white, not black


@pytest.mark.parametrize(
    "data",
    [b"", b"Shopping list\n", grey_with_object()[:200], imagegen.png_bomb()],
    ids=["empty", "text", "truncated-jpeg", "png-bomb"],
)
def test_make_thumbnail_returns_none_for_undecodable_bytes(data: bytes) -> None:
    assert make_thumbnail(data) is None


# --------------------------------------------------------------------------- Markdown


def test_markdown_header_totals_and_most_common_labels(sample: Sample) -> None:
    md = sample.markdown
    assert md.startswith("# Holiday photos\n\nGenerated 2025-06-01 12:00 UTC.\n")
    assert "| Images | Complete | Partial | Failed | Flagged | Distinct labels |" in md
    # 3 images: one of each status, the red one flagged; labels Object, Photograph, Gray, Red.
    assert "| 3 | 1 | 1 | 1 | 1 | 4 |" in md
    top = md.split("## Most common labels")[1].split("## Images")[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (\d+) \|$", top, flags=re.MULTILINE)
    assert rows == [("1", "Object", "2"), ("2", "Photograph", "2"), ("3", "Gray", "1"), ("4", "Red", "1")]


def test_markdown_has_one_section_per_image(sample: Sample) -> None:
    sections = sample.markdown.split("\n### ")[1:]
    assert [s.splitlines()[0] for s in sections] == [
        r"1. shots/2024\_summer \*best\* \[v2\].jpg",
        r"2. phone/rotated \<portrait\>.jpg",
        "3. broken/notes.txt.jpg",
    ]
    grey, red, broken = sections
    assert "- **Status:** complete\n" in grey
    assert "- **Location:** Near Paris, Île-de-France, France (GPS 48.85837, 2.29448)" in grey
    assert "- **Labels:** Object (96.6%), Gray (85.7%), Photograph (80.0%)" in grey
    fingerprint = ai_answers.fingerprint(grey_with_object())
    assert f"- **Text:**\n  - FP {fingerprint}\n" in grey
    assert "- **Moderation:** clean" in grey
    assert "- **Status:** partial — text failed (ThrottlingException)" in red
    assert "- **Location:** A red wall in Lisbon, Portugal" in red
    assert "- **Text:** not analysed (failed: ThrottlingException)" in red
    assert "- **Moderation:** flagged (Graphic Violence 92.0%, Violence 92.0%)" in red
    assert "- **Status:** failed — not an image Pillow can decode (ImageRejected)" in broken
    assert "- **Labels:** not analysed (image refused)" in broken
    assert "- **Moderation:** not analysed (image refused)" in broken


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("*bold* _it_ `code`", r"\*bold\* \_it\_ \`code\`"),
        ("[click](http://x) <b>hi</b> & a|b", r"\[click\](http://x) \<b\>hi\</b\> \& a\|b"),
        ("# heading", r"\# heading"),
        ("1. first", r"1\. first"),
        ("- item", r"\- item"),
        ("> quote", r"\> quote"),
        ("two\nlines\t here", "two lines here"),
        ("back\\slash", r"back\\slash"),
    ],
)
def test_md_escape(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


def test_markdown_escapes_text_read_from_the_image(sample: Sample) -> None:
    result = replace(
        sample.results[0],
        analyses=replace(
            sample.results[0].analyses, text=[TextLine(HOSTILE, 99.0), TextLine("- [x] *x*", 98)]
        ),
    )
    markdown, _ = render_report([result], {}, generated_at=GENERATED)
    assert r"  - \<script\>alert(1)\</script\>\<img src=x onerror=alert(1)\>" in markdown
    assert r"  - \- \[x\] \*x\*" in markdown
    assert not re.search(r"(?<!\\)[<>]", markdown)  # every angle bracket is escaped


# --------------------------------------------------------------------------- HTML as text


def test_html_is_one_self_contained_page(sample: Sample) -> None:
    page = sample.html
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page, flags=re.IGNORECASE)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count('src="data:image/jpeg;base64,') == 2  # the broken image has no thumbnail...
    assert page.count('class="placeholder">No preview<') == 1  # ...and gets a placeholder
    assert page.count("<script>") == 1
    assert "script-src 'sha256-" in page  # only the page's own script may run
    assert page.count('<article class="card"') == 3


def test_html_cards_carry_boxes_badges_and_filter_data(sample: Sample) -> None:
    grey, red, broken = sample.html.split('<article class="card"')[1:]
    assert 'data-status="complete" data-flagged="false"' in grey
    assert 'data-labels="[&quot;Gray&quot;, &quot;Object&quot;, &quot;Photograph&quot;]"' in grey
    assert '<div class="box label" style="left:25.000%;top:25.000%;width:50.000%;height:50.000%"' in grey
    assert '<div class="box text" style="left:10.000%;top:10.000%;width:50.000%;height:8.000%"' in grey
    assert '<span class="badge status-complete">Complete</span><span class="badge clean">Clean</span>' in grey
    assert "Near Paris, Île-de-France, France" in grey
    assert 'data-status="partial" data-flagged="true"' in red
    assert '<span class="badge flagged">Flagged</span>' in red
    # A portrait thumbnail is centred in the 4:3 stage at half its width.
    assert 'class="frame" style="left:25.000%;top:0.000%;width:50.000%;height:100.000%"' in red
    assert "&lt;portrait&gt;" in red and "<portrait>" not in red
    assert 'data-status="failed"' in broken and "not an image Pillow can decode (ImageRejected)" in broken


def test_html_escapes_everything_from_the_image(sample: Sample) -> None:
    _, page = hostile_report(sample)
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("<script>") == 1 and page.count("<img ") == 2


def test_the_caption_is_the_picture_s_alt_text_and_is_shown_with_clues_keywords_and_conflict(
    sample: Sample,
) -> None:
    red = sample.results[1]
    assert red.analyses.location is not None
    captioned = replace(
        red,
        analyses=replace(
            red.analyses,
            location=replace(red.analyses.location, evidence=["Azulejo tiles", "Tram 28 rails"]),
            caption=Caption('A red "wall" <in> Lisbon.', "Red wall & a tram", ["wall", "lisbon"]),
            location_conflict=LocationConflict(
                "city", "Porto", "Lisbon", "city: GPS says Porto, the model says Lisbon"
            ),
        ),
    )
    markdown, page = render_report([captioned], sample.thumbnails, generated_at=GENERATED)
    assert 'alt="Red wall &amp; a tram"' in page
    for shown in (
        "<dt>Caption</dt><dd>A red &quot;wall&quot; &lt;in&gt; Lisbon.</dd>",
        "<dt>Clues</dt><dd>Azulejo tiles; Tram 28 rails</dd>",
        "<dt>Location conflict</dt><dd>city: GPS says Porto, the model says Lisbon</dd>",
        "<dt>Keywords</dt><dd>wall, lisbon</dd>",
    ):
        assert shown in page
    assert (
        "- **Keywords:** wall, lisbon" in markdown and "- **Location conflict:** city: GPS says" in markdown
    )
    # without a caption (not analysed, or an older result) the picture's alt text is its key
    _, plain = render_report([red], sample.thumbnails, generated_at=GENERATED)
    assert f'alt="{html.escape(RED_KEY)}"' in plain and "<dt>Caption</dt>" not in plain


def hostile_report(sample: Sample) -> tuple[str, str]:
    """The grey image, but every string that comes from the image or its key tries to inject markup."""
    grey = sample.results[0]
    label = replace(grey.analyses.labels[0], name='Obj"><b>ect</b>')
    result = replace(
        grey,
        image=replace(grey.image, key=f'evil/"><svg onload=alert(1)>{HOSTILE}.jpg'),
        analyses=replace(
            grey.analyses,
            labels=[label, *grey.analyses.labels[1:]],
            text=[TextLine(HOSTILE, 99.0, Box(0.1, 0.8, 0.6, 0.1))],
            location=Location(HOSTILE, None, None, None, None, 0.5, "m"),
        ),
    )
    thumbnails = {result.image.key: sample.thumbnails[GREY_KEY], RED_KEY: sample.thumbnails[RED_KEY]}
    return render_report([result, sample.results[1]], thumbnails, generated_at=GENERATED)


# --------------------------------------------------------------------------- in headless Chromium

WINDOW = (1200, 1600)


def run_chromium(binary: str, workdir: Path, url: str, *args: str) -> str:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={workdir / 'profile'}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def write_page(folder: Path, page: str, name: str = "report.html") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(page, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def screenshot(sample: Sample, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Image.Image:
    folder = tmp_path_factory.mktemp("report")
    page = write_page(folder, sample.html)
    png = folder / "report.png"
    run_chromium(chromium, folder, page.as_uri(), f"--screenshot={png}")
    with Image.open(png) as shot:
        assert shot.size == WINDOW
        return shot.convert("RGB")


Rect = tuple[int, int, int, int]  # left, top, right, bottom (exclusive)


def close(pixel: tuple[int, int, int], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def locate(shot: Image.Image, colour: tuple[int, int, int], tolerance: int = 24) -> Rect:
    """Where a thumbnail whose background is `colour` is shown: the longest run of rows, then of
    columns, in which most pixels have that colour (text, borders and badges are too thin to count)."""
    diff = ImageChops.difference(shot, Image.new("RGB", shot.size, colour))
    red, green, blue = diff.split()
    mask = ImageChops.lighter(ImageChops.lighter(red, green), blue).point(
        lambda v: 255 if v <= tolerance else 0
    )
    top, bottom = _longest_run(_profile(mask, axis=1))
    left, right = _longest_run(_profile(mask.crop((0, top, mask.width, bottom)), axis=0))
    return left, top, right, bottom


def _profile(mask: Image.Image, axis: int) -> list[int]:
    """Matching pixels per row (axis=1) or per column (axis=0), from a box-filtered 1-pixel strip."""
    size = (1, mask.height) if axis == 1 else (mask.width, 1)
    length = mask.width if axis == 1 else mask.height
    strip = mask.resize(size, Image.Resampling.BOX)
    return [round(strip.getpixel((0, i) if axis == 1 else (i, 0)) * length / 255) for i in range(max(size))]  # type: ignore[operator]


def _longest_run(profile: list[int]) -> tuple[int, int]:
    threshold = 0.4 * max(profile)
    best, start = (0, 0), None
    for index, value in enumerate([*profile, 0]):
        if value >= threshold and start is None:
            start = index
        elif value < threshold and start is not None:
            best = max(best, (start, index), key=lambda run: run[1] - run[0])
            start = None
    assert best[1] - best[0] > 50, "thumbnail not found in the screenshot"
    return best


def box_rect(frame: Rect, box: Box) -> tuple[float, float, float, float]:
    left, top, right, bottom = frame
    width, height = right - left, bottom - top
    x0, y0 = left + box.left * width, top + box.top * height
    return x0, y0, x0 + box.width * width, y0 + box.height * height


def assert_outline(
    shot: Image.Image, frame: Rect, box: Box, colour: tuple[int, int, int], inside: tuple[int, int, int]
) -> None:
    """The box's four edges are drawn in `colour` where the box is, and its inside still shows the
    image (`inside`): an outline, not a fill. The label tag sits in the top-left corner, so the edges
    are sampled away from it."""
    x0, y0, x1, y1 = box_rect(frame, box)

    def edge_hit(x: float, y: float, horizontal: bool) -> bool:
        points = [(x, y + d) if horizontal else (x + d, y) for d in range(-3, 4)]
        return any(close(pixel_at(shot, px, py), colour) for px, py in points)

    for t in (0.6, 0.75, 0.9):
        xt, yt = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        assert edge_hit(xt, y0, horizontal=True), f"top edge of {box} at {t}"
        assert edge_hit(xt, y1, horizontal=True), f"bottom edge of {box} at {t}"
        assert edge_hit(x0, yt, horizontal=False), f"left edge of {box} at {t}"
        assert edge_hit(x1, yt, horizontal=False), f"right edge of {box} at {t}"
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    for x, y in [(cx, cy), (x1 - 7, cy), (cx, y1 - 7), (x0 + 7, y1 - 7)]:
        pixel = pixel_at(shot, x, y)
        assert close(pixel, inside, 30), f"inside {box} at ({x:.0f}, {y:.0f}): {pixel}, not the image"


def pixel_at(shot: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    pixel = shot.getpixel((round(x), round(y)))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def test_screenshot_shows_label_boxes_over_the_objects(sample: Sample, screenshot: Image.Image) -> None:
    grey, red, _ = sample.results
    grey_frame = locate(screenshot, GREY)
    # The frame has the thumbnail's 4:3 shape: the page placed the picture where the boxes assume.
    width, height = grey_frame[2] - grey_frame[0], grey_frame[3] - grey_frame[1]
    assert abs(width / height - 4 / 3) < 0.03, grey_frame
    (object_box,) = next(label for label in grey.analyses.labels if label.name == "Object").instances
    assert object_box == Box(0.25, 0.25, 0.5, 0.5)  # where the double put it: around the yellow object
    assert_outline(screenshot, grey_frame, object_box, rgb(LABEL_BOX_COLOUR), inside=YELLOW)

    # The sideways JPEG: shown upright (portrait), with the double's box on the white marker top right.
    red_frame = locate(screenshot, imagegen.RED)
    width, height = red_frame[2] - red_frame[0], red_frame[3] - red_frame[1]
    assert abs(width / height - 2 / 3) < 0.03, red_frame
    (marker_box,) = next(label for label in red.analyses.labels if label.name == "Object").instances
    assert marker_box.left > 0.6 and marker_box.top < 0.2
    assert_outline(screenshot, red_frame, marker_box, rgb(LABEL_BOX_COLOUR), inside=WHITE)


def test_screenshot_shows_text_boxes(sample: Sample, screenshot: Image.Image) -> None:
    (line,) = sample.results[0].analyses.text
    assert line.box == Box(0.1, 0.1, 0.5, 0.08)  # the double's fixed LINE box
    assert_outline(screenshot, locate(screenshot, GREY), line.box, rgb(TEXT_BOX_COLOUR), inside=GREY)


def test_screenshot_shows_the_placeholder_for_a_missing_thumbnail(screenshot: Image.Image) -> None:
    stage = rgb("#232833")  # the empty picture area of the failed image's card
    left, top, right, bottom = locate(screenshot, stage, tolerance=6)
    assert right - left > 300 and bottom - top > 200


def test_hostile_text_renders_inert_in_the_browser(sample: Sample, chromium: str, tmp_path: Path) -> None:
    _, page = hostile_report(sample)
    dom = run_chromium(chromium, tmp_path, write_page(tmp_path, page).as_uri(), "--dump-dom")
    assert "Showing 2 of 2 images" in dom  # the page's own script ran (the CSP admits it)...
    assert dom.count("<script") == 1  # ...and nothing else became a script or an element
    assert "<svg" not in dom and "<b>" not in dom and 'src="x"' not in dom
    assert dom.count("<img ") == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in dom


@pytest.mark.parametrize(
    ("fragment", "visible", "count"),
    [
        ("", [GREY_KEY, RED_KEY, BROKEN_KEY], "Showing 3 of 3 images"),
        ("#label=Object", [GREY_KEY, RED_KEY], "Showing 2 of 3 images"),
        ("#label=Object&flagged=1", [RED_KEY], "Showing 1 of 3 images"),
        ("#status=failed", [BROKEN_KEY], "Showing 1 of 3 images"),
    ],
)
def test_filters_in_the_browser(
    sample: Sample, chromium: str, tmp_path: Path, fragment: str, visible: list[str], count: str
) -> None:
    url = write_page(tmp_path, sample.html).as_uri() + fragment
    dom = run_chromium(chromium, tmp_path, url, "--dump-dom")
    cards = re.findall(r'<article class="card"([^>]*)>.*?<h2 class="key" title="([^"]*)"', dom, re.DOTALL)
    shown = [html.unescape(key) for attributes, key in cards if " hidden" not in attributes]
    assert shown == visible
    assert count in dom
