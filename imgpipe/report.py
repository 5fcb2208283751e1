"""The analysis report: a Markdown summary and one self-contained HTML page for a set of results.

`render_report` is pure: results and thumbnails in, (markdown, html) out. The caller fetches the
thumbnails (JPEG bytes per image key, see `make_thumbnail`). The HTML page loads nothing from the
network: CSS and JS are inline and thumbnails are data: URLs. A Content-Security-Policy admits only
the page's own script (by hash), so even a string that escaped escaping could not run.

Everything that comes from an image or its key (keys, labels, text read from the image, locations,
error messages) is untrusted: it is HTML-escaped in the page and Markdown-escaped in the summary.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template

from image_analysis.domain.faces import describe_face
from image_analysis.domain.models import (
    SIMULATED_NOTICE,
    Box,
    ImageResult,
    ModerationLabel,
    Place,
    not_analysed,
)
from image_analysis.domain.states import FINAL_STATUSES, AnalysisStatus, ImageStatus
from PIL import Image, ImageOps

TOP_LABELS = 10  # most common labels listed at the top
CARD_LABELS = 5  # labels per image in the Markdown summary
STATUSES = FINAL_STATUSES  # complete, partial, failed
STAGE_RATIO = 4 / 3  # every card's picture area; the thumbnail is fitted inside it
PAGE_SIZE = 48  # cards per page of the HTML report; thumbnails load when their page is shown
LABEL_BOX_COLOUR = "#ff2e97"
TEXT_BOX_COLOUR = "#00d2ff"
FACE_BOX_COLOUR = "#3ddc4a"  # drawn beneath label and text boxes, without a tag: it hides no caption
_MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


# --------------------------------------------------------------------------- entry points


def render_report(
    results: list[ImageResult],
    thumbnails: dict[str, bytes],
    *,
    title: str = "Image analysis report",
    generated_at: str | None = None,
) -> tuple[str, str]:
    """(markdown, html) for the results; thumbnails maps image key -> JPEG bytes (missing: placeholder)."""
    generated = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = Summary.of(results)
    return (
        render_markdown(results, summary, title=title, generated_at=generated),
        render_html(results, thumbnails, summary, title=title, generated_at=generated),
    )


def make_thumbnail(image_bytes: bytes, max_edge: int = 480) -> bytes | None:
    """A JPEG at most max_edge pixels on its longer side, upright (EXIF orientation applied) and with
    any transparency flattened onto white; None when the bytes are not an image Pillow can decode."""
    _register_heif()
    try:
        with Image.open(io.BytesIO(image_bytes)) as raw:
            raw.draft("RGB", (max_edge, max_edge))  # JPEG only: decode at a reduced scale
            image = _flatten(ImageOps.exif_transpose(raw))
            image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=82, optimize=True)
            return buffer.getvalue()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _register_heif() -> None:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - a Lambda dependency, normally installed
        return
    pillow_heif.register_heif_opener()


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


# --------------------------------------------------------------------------- facts shared by both formats


@dataclass(frozen=True)
class Summary:
    images: int
    statuses: Counter[str]
    flagged: int
    label_images: Counter[str]  # label name -> number of images showing it
    simulated: int  # images the simulated AI services answered for

    @classmethod
    def of(cls, results: list[ImageResult]) -> Summary:
        labels: Counter[str] = Counter()
        for result in results:
            labels.update({label.name for label in result.analyses.labels})
        return cls(
            images=len(results),
            statuses=Counter(result.status for result in results),
            flagged=sum(1 for result in results if result.flagged),
            label_images=labels,
            simulated=sum(1 for result in results if result.simulated),
        )

    def simulated_notice(self) -> str | None:
        if not self.simulated:
            return None
        return f"{self.simulated} of {self.images} image(s): {SIMULATED_NOTICE}"

    @property
    def distinct_labels(self) -> int:
        return len(self.label_images)

    def top_labels(self, count: int = TOP_LABELS) -> list[tuple[str, int]]:
        return sorted(self.label_images.items(), key=lambda item: (-item[1], item[0]))[:count]

    def status_columns(self) -> list[tuple[str, int]]:
        """complete/partial/failed always, then any other status seen, in name order."""
        extra = sorted(set(self.statuses) - set(STATUSES))
        return [(status, self.statuses.get(status, 0)) for status in (*STATUSES, *extra)]


def location_text(result: ImageResult) -> str | None:
    """Claude's description of where the photo was taken, else the place its GPS tags point at."""
    analyses = result.analyses
    if analyses.location and analyses.location.description.strip():
        return analyses.location.description
    gps = analyses.gps
    if gps is None:
        return None
    coordinates = f"GPS {gps.latitude:.5f}, {gps.longitude:.5f}"
    if gps.place:
        return f"Near {_place_name(gps.place)} ({coordinates})"
    return coordinates


def caption_facts(result: ImageResult) -> list[tuple[str, str]]:
    """The caption, the clues for the location, the keywords and a GPS/model disagreement, when known."""
    analyses, facts = result.analyses, []
    if analyses.caption:
        facts.append(("Caption", analyses.caption.text))
    if analyses.location and analyses.location.evidence:
        facts.append(("Clues", "; ".join(analyses.location.evidence)))
    if analyses.location_conflict:
        facts.append(("Location conflict", analyses.location_conflict.reason))
    if analyses.caption and analyses.caption.keywords:
        facts.append(("Keywords", ", ".join(analyses.caption.keywords)))
    return facts


def alt_text(result: ImageResult) -> str:
    """The model's alt text for the picture; its key when there is none (not analysed, older result)."""
    return result.analyses.caption.alt_text if result.analyses.caption else result.image.key


def _place_name(place: Place) -> str:
    return ", ".join(part for part in (place.city, place.region, place.country) if part) or "unknown place"


def status_detail(result: ImageResult) -> str | None:
    """Why an image failed, or which analyses failed for a partial result."""
    if result.error:
        message = result.error.message or "unknown error"
        code = result.error.code
        return f"{message} ({code})" if code else message
    failed = [
        f"{name} failed" + (f" ({outcome.reason})" if outcome.reason else "")
        for name, outcome in sorted(result.analyses.outcomes.items())
        if outcome.status == AnalysisStatus.FAILED
    ]
    return "; ".join(failed) or None


def empty_answer(result: ImageResult, name: str) -> str:
    """What an analysis without an answer means: it ran and found nothing, or it never ran (and why)."""
    if result.status == ImageStatus.FAILED:
        return "not analysed (image refused)"
    why = not_analysed(result.analyses.outcomes.get(name))
    return f"not analysed ({why})" if why else "none found"


def moderation_text(result: ImageResult) -> str:
    moderation = result.analyses.moderation
    if moderation is None:
        return empty_answer(result, "moderation")
    if not moderation.flagged:
        return "clean"
    names = ", ".join(_moderation_label(item) for item in moderation.labels)
    return f"flagged ({names})" if names else "flagged"


def understanding_facts(result: ImageResult) -> list[tuple[str, str]]:
    """What Comprehend found in the image's text: language, entities, key phrases, PII types (never
    the PII itself; the entities are the text's own words, already shown under Text)."""
    insights = result.analyses.comprehension
    if insights is None:
        return []
    facts = [("Language", insights.language or "unknown")]
    if insights.entities:
        facts.append(("Entities", ", ".join(f"{e.text} ({e.type.lower()})" for e in insights.entities)))
    if insights.key_phrases:
        facts.append(("Key phrases", ", ".join(insights.key_phrases)))
    facts.append(("PII", ", ".join(insights.pii_types) if insights.has_pii else "none found"))
    return facts


def _moderation_label(item: ModerationLabel) -> str:
    return f"{item.name} {item.confidence:.1f}%"


def _labels_by_confidence(result: ImageResult) -> list[tuple[str, float]]:
    labels = sorted(result.analyses.labels, key=lambda label: (-label.confidence, label.name))
    return [(label.name, label.confidence) for label in labels]


# --------------------------------------------------------------------------- Markdown

_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~#])")
_MD_BLOCK_START = re.compile(r"^(?:(\d+)([.)])|([-+=>!]))")


def md_escape(text: str) -> str:
    """Text that renders as itself in Markdown: one line, no emphasis, links, HTML or block syntax."""
    flat = _MD_INLINE.sub(r"\\\1", " ".join(text.split()))
    return _MD_BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", flat)


def render_markdown(results: list[ImageResult], summary: Summary, *, title: str, generated_at: str) -> str:
    notice = summary.simulated_notice()
    parts = [
        f"# {md_escape(title)}\n\nGenerated {md_escape(generated_at)}.",
        *([f"> **{md_escape(notice)}**"] if notice else []),
        _md_totals(summary),
        _md_top_labels(summary),
        "## Images",
        *(_md_image(index, result) for index, result in enumerate(results, start=1)),
    ]
    return "\n\n".join(parts) + "\n"


def _md_totals(summary: Summary) -> str:
    columns = [
        ("Images", summary.images),
        *((status.capitalize(), count) for status, count in summary.status_columns()),
        ("Flagged", summary.flagged),
        ("Distinct labels", summary.distinct_labels),
    ]
    header = "| " + " | ".join(md_escape(name) for name, _ in columns) + " |"
    rule = "|" + "|".join("---:" for _ in columns) + "|"
    values = "| " + " | ".join(str(value) for _, value in columns) + " |"
    return "\n".join(["## Totals", "", header, rule, values])


def _md_top_labels(summary: Summary) -> str:
    top = summary.top_labels()
    if not top:
        return "## Most common labels\n\nNo labels were detected."
    rows = [f"| {rank} | {md_escape(name)} | {count} |" for rank, (name, count) in enumerate(top, start=1)]
    return "\n".join(["## Most common labels", "", "| # | Label | Images |", "|---:|---|---:|", *rows])


def _md_image(index: int, result: ImageResult) -> str:
    detail = status_detail(result)
    labels = _labels_by_confidence(result)[:CARD_LABELS]
    lines = [
        f"### {index}. {md_escape(result.image.key)}",
        "",
        f"- **Status:** {result.status}" + (f" — {md_escape(detail)}" if detail else ""),
        *(
            ["- **Answers:** SIMULATED (imgpipe's simulated AI services, not Bedrock or Rekognition)"]
            if result.simulated
            else []
        ),
        f"- **Location:** {md_escape(location_text(result) or empty_answer(result, 'location'))}",
        *(f"- **{name}:** {md_escape(value)}" for name, value in caption_facts(result)),
        "- **Labels:** "
        + (", ".join(f"{md_escape(n)} ({c:.1f}%)" for n, c in labels) or empty_answer(result, "labels")),
    ]
    text = result.analyses.text
    lines.append("- **Text:**" + ("" if text else f" {empty_answer(result, 'text')}"))
    lines.extend(f"  - {md_escape(line.text)}" for line in text)
    lines.append(f"- **Moderation:** {md_escape(moderation_text(result))}")
    faces = result.analyses.faces
    if faces:
        lines.append(
            f"- **Faces:** {len(faces)} (" + "; ".join(md_escape(describe_face(f)) for f in faces) + ")"
        )
    lines.extend(f"- **{name}:** {md_escape(value)}" for name, value in understanding_facts(result))
    if result.reused_from:
        lines.append(f"- **Same bytes as:** {md_escape(result.reused_from)} (its analysis was reused)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(
    results: list[ImageResult],
    thumbnails: dict[str, bytes],
    summary: Summary,
    *,
    title: str,
    generated_at: str,
) -> str:
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    return _PAGE.substitute(
        csp=csp,  # a constant apart from the base64 hash: nothing to escape
        title=esc(title),
        css=_CSS,
        header=_html_header(summary, title, generated_at),
        cards="\n".join(
            _html_card(result, thumbnails.get(result.image.key), eager=index < PAGE_SIZE)
            for index, result in enumerate(results)
        ),
        page_size=PAGE_SIZE,
        script=_SCRIPT,
    )


def _html_header(summary: Summary, title: str, generated_at: str) -> str:
    return "\n".join(
        [
            f'<div class="title"><h1>{esc(title)}</h1>'
            f'<p class="meta">Generated {esc(generated_at)}</p></div>',
            *(
                [f'<p class="simulated-notice" role="note">{esc(n)}</p>']
                if (n := summary.simulated_notice())
                else []
            ),
            _html_totals(summary),
            _html_common_labels(summary),
            _html_filters(summary),
        ]
    )


def _html_totals(summary: Summary) -> str:
    tiles = [
        ("Images", summary.images, "total"),
        *((status.capitalize(), count, f"status-{status}") for status, count in summary.status_columns()),
        ("Flagged", summary.flagged, "flagged" if summary.flagged else "clean"),
        ("Distinct labels", summary.distinct_labels, "total"),
    ]
    items = "".join(
        f'<div class="tile {esc(kind)}"><span class="n">{value}</span>'
        f'<span class="k">{esc(name)}</span></div>'
        for name, value, kind in tiles
    )
    return f'<section class="totals" aria-label="Totals">{items}</section>'


def _html_common_labels(summary: Summary) -> str:
    top = summary.top_labels()
    if not top:
        return (
            '<section class="common"><h2>Most common labels</h2><p class="none">None detected</p></section>'
        )
    chips = "".join(
        f'<button type="button" class="chip" data-pick-label="{esc(name)}">{esc(name)}'
        f' <span class="count">{count}</span></button>'
        for name, count in top
    )
    return f'<section class="common"><h2>Most common labels</h2><div class="chips">{chips}</div></section>'


def _html_filters(summary: Summary) -> str:
    labels = "".join(f'<option value="{esc(n)}">{esc(n)}</option>' for n in sorted(summary.label_images))
    statuses = "".join(
        f'<option value="{esc(s)}">{esc(s.capitalize())}</option>' for s, _ in summary.status_columns()
    )
    return (
        '<form class="filters" id="filters" autocomplete="off">'
        f'<label>Label <select id="f-label"><option value="">Any label</option>{labels}</select></label>'
        f'<label>Status <select id="f-status"><option value="">Any status</option>{statuses}</select></label>'
        '<label class="check"><input type="checkbox" id="f-flagged"> Flagged only</label>'
        '<label class="check"><input type="checkbox" id="f-boxes" checked> Show boxes</label>'
        '<span class="legend"><i class="swatch label"></i>label <i class="swatch text"></i>text'
        ' <i class="swatch face"></i>face</span>'
        f'<output id="f-count" class="count">{summary.images} images</output>'
        "</form>"
    )


def _html_card(result: ImageResult, thumbnail: bytes | None, *, eager: bool = True) -> str:
    names = sorted({label.name for label in result.analyses.labels})
    attributes = (
        f'class="card" data-status="{esc(result.status)}" data-flagged="{str(result.flagged).lower()}"'
        f' data-labels="{esc(json.dumps(names))}"'
    )
    return (
        f"<article {attributes}>"
        f"{_html_stage(result, thumbnail, eager)}{_html_boxed(result)}"
        f'<div class="body"><h2 class="key" title="{esc(result.image.key)}">{esc(result.image.key)}</h2>'
        f"{_html_badges(result)}{_html_details(result)}</div>"
        "</article>"
    )


def _html_stage(result: ImageResult, thumbnail: bytes | None, eager: bool) -> str:
    """The picture with its boxes. Off the first page the thumbnail waits in data-src until the page's
    script shows its page, so a report of hundreds of images opens as fast as one of a few."""
    info = _image_info(thumbnail) if thumbnail else None
    if thumbnail is None or info is None:
        return '<div class="stage"><div class="placeholder">No preview</div></div>'
    mime, width, height = info
    source = f"data:{mime};base64,{base64.b64encode(thumbnail).decode()}"
    boxes = _html_boxes(result)
    where = "src" if eager else "data-src"
    return (
        f'<div class="stage"><div class="frame" style="{_frame_style(width, height)}">'
        f'<img {where}="{source}" alt="{esc(alt_text(result))}" width="{width}" height="{height}">'
        f"{boxes}</div></div>"
    )


def _image_info(data: bytes) -> tuple[str, int, int] | None:
    """(mime type, width, height) of a thumbnail a browser can show, from its header only."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = _MIME_TYPES.get(image.format or "")
            return (mime, image.width, image.height) if mime else None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _frame_style(width: int, height: int) -> str:
    """Percentages that fit a width x height picture inside the 4:3 stage, centred."""
    ratio = width / height
    frame_w, frame_h = (
        (100.0, 100 * STAGE_RATIO / ratio) if ratio >= STAGE_RATIO else (100 * ratio / STAGE_RATIO, 100.0)
    )
    return _position((100 - frame_w) / 2, (100 - frame_h) / 2, frame_w, frame_h)


def _html_boxes(result: ImageResult) -> str:
    """Outlines only: what each box is stands under the picture (_html_boxed) and in its tooltip, so no
    tag ever covers what the picture shows. Faces are drawn first, beneath label and text boxes."""
    parts = [
        f'<div class="box face" style="{_box_style(face.box)}" title="{esc(describe_face(face))}"></div>'
        for face in result.analyses.faces
    ]
    for label in result.analyses.labels:
        for box in label.instances:
            title = f"{label.name} {label.confidence:.0f}%"
            parts.append(f'<div class="box label" style="{_box_style(box)}" title="{esc(title)}"></div>')
    for line in result.analyses.text:
        if line.box:
            parts.append(
                f'<div class="box text" style="{_box_style(line.box)}" title="{esc(line.text)}"></div>'
            )
    return "".join(parts)


def _html_boxed(result: ImageResult) -> str:
    """The caption under the picture: the labels with boxes on it, and how many text and face boxes."""
    items = [
        f'<li class="label">{esc(label.name)} {label.confidence:.0f}%'
        + (f" ×{len(label.instances)}" if len(label.instances) > 1 else "")
        + "</li>"
        for label in result.analyses.labels
        if label.instances
    ]
    lines = sum(1 for line in result.analyses.text if line.box)
    if lines:
        items.append(f'<li class="text">text ×{lines}</li>' if lines > 1 else '<li class="text">text</li>')
    faces = len(result.analyses.faces)
    if faces:
        items.append(f'<li class="face">face ×{faces}</li>' if faces > 1 else '<li class="face">face</li>')
    return f'<ul class="boxed" aria-label="Boxes on the picture">{"".join(items)}</ul>' if items else ""


def _box_style(box: Box) -> str:
    left, top = _clamp(box.left), _clamp(box.top)
    width, height = _clamp(box.width, 1 - left), _clamp(box.height, 1 - top)
    return _position(left * 100, top * 100, width * 100, height * 100)


def _clamp(value: float, high: float = 1.0) -> float:
    return min(max(value, 0.0), high)


def _position(left: float, top: float, width: float, height: float) -> str:
    return f"left:{left:.3f}%;top:{top:.3f}%;width:{width:.3f}%;height:{height:.3f}%"


def _html_badges(result: ImageResult) -> str:
    moderation = result.analyses.moderation
    if moderation is None:
        verdict = '<span class="badge unchecked">Not moderated</span>'  # why: in the details
    elif moderation.flagged:
        verdict = '<span class="badge flagged">Flagged</span>'
    else:
        verdict = '<span class="badge clean">Clean</span>'
    status = f'<span class="badge status-{esc(result.status)}">{esc(result.status.capitalize())}</span>'
    simulated = '<span class="badge simulated">SIMULATED</span>' if result.simulated else ""
    return f'<div class="badges">{status}{verdict}{simulated}</div>'


def _html_details(result: ImageResult) -> str:
    rows = []
    detail = status_detail(result)
    if detail:
        rows.append(_row("Problem", f'<span class="problem">{esc(detail)}</span>'))
    location = location_text(result)
    missing = f'<span class="none">{esc(empty_answer(result, "location"))}</span>'
    rows.append(_row("Location", esc(location) if location else missing))
    rows += [_row(name, esc(value)) for name, value in caption_facts(result)]
    rows.append(_row("Labels", _html_labels(result)))
    lines = (f"<q>{esc(t.text)}</q>" for t in result.analyses.text)
    rows.append(_row("Text", _html_list(lines, "text", empty_answer(result, "text"))))
    rows.append(_row("Moderation", esc(moderation_text(result))))
    if result.analyses.faces:
        faces = (esc(describe_face(face)) for face in result.analyses.faces)
        rows.append(_row(f"Faces ({len(result.analyses.faces)})", _html_list(faces, "faces", "none found")))
    rows += [_row(name, esc(value)) for name, value in understanding_facts(result)]
    if result.reused_from:
        rows.append(_row("Reused", f"same bytes as {esc(result.reused_from)}"))
    return f'<dl class="details">{"".join(rows)}</dl>'


def _row(name: str, value_html: str) -> str:
    return f"<dt>{esc(name)}</dt><dd>{value_html}</dd>"


def _html_labels(result: ImageResult) -> str:
    items = (
        f'<span class="name">{esc(name)}</span>'
        f'<span class="bar"><i style="width:{_clamp(conf / 100) * 100:.1f}%"></i></span>'
        f'<span class="pct">{conf:.1f}%</span>'
        for name, conf in _labels_by_confidence(result)
    )
    return _html_list(items, "labels", empty_answer(result, "labels"))


def _html_list(items_html: Iterable[str], kind: str, empty: str) -> str:
    items = "".join(f"<li>{item}</li>" for item in items_html)
    return f'<ul class="{kind}">{items}</ul>' if items else f'<span class="none">{esc(empty)}</span>'


# --------------------------------------------------------------------------- page template, CSS, JS
# Placeholders are filled with escaped markup; CSS and JS carry no user data (cards hold it in
# escaped data- attributes the script reads).

_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="$csp">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header class="top">
$header
</header>
<main id="cards" class="cards" data-page-size="$page_size">
$cards
</main>
<p id="f-empty" class="empty" hidden>No image matches these filters.</p>
<nav id="pager" class="pager" aria-label="Pages" hidden>
<button type="button" id="p-prev">&larr; Previous</button>
<output id="p-page"></output>
<button type="button" id="p-next">Next &rarr;</button>
</nav>
<script>$script</script>
</body>
</html>
""")

_CSS = f"""
:root {{
  --label: {LABEL_BOX_COLOUR}; --text: {TEXT_BOX_COLOUR}; --face: {FACE_BOX_COLOUR};
  --ink: #1d2330; --muted: #5f6b7d; --line: #dfe3ea; --page: #f3f5f8; --card: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
  color: var(--ink); background: var(--page);
}}
* {{ box-sizing: border-box; }}
[hidden] {{ display: none !important; }}
body {{ margin: 0; }}
header.top {{ padding: 20px 24px 12px; background: var(--card); border-bottom: 1px solid var(--line); }}
.title {{ display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }}
h1 {{ margin: 0; font-size: 22px; }}
.meta {{ margin: 0; color: var(--muted); }}
.totals {{ display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }}
.tile {{ min-width: 104px; padding: 8px 14px; border-radius: 8px; background: var(--page);
  border: 1px solid var(--line); display: flex; flex-direction: column; }}
.tile .n {{ font-size: 22px; font-weight: 700; }}
.tile .k {{ color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }}
.tile.status-complete .n, .tile.clean .n {{ color: #17753a; }}
.tile.status-partial .n {{ color: #946200; }}
.tile.status-failed .n, .tile.flagged .n {{ color: #b3261e; }}
.common h2 {{ font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  margin: 0 0 6px; }}
.chips {{ display: flex; flex-wrap: wrap; gap: 6px; }}
.chip {{ font: inherit; border: 1px solid var(--line); background: var(--page); border-radius: 999px;
  padding: 2px 10px; cursor: pointer; color: var(--ink); }}
.chip:hover {{ border-color: var(--label); }}
.chip.active {{ border-color: var(--label); background: #ffe4f1; }}
.chip .count {{ color: var(--muted); font-variant-numeric: tabular-nums; }}
.filters {{ display: flex; flex-wrap: wrap; align-items: center; gap: 10px 18px; margin-top: 14px;
  padding-top: 12px; border-top: 1px solid var(--line); }}
.filters label {{ display: flex; align-items: center; gap: 6px; color: var(--muted); }}
.filters select {{ font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 6px;
  background: #fff; color: var(--ink); max-width: 220px; }}
.filters .count {{ margin-left: auto; color: var(--muted); }}
.legend {{ display: flex; align-items: center; gap: 6px; color: var(--muted); }}
.swatch {{ display: inline-block; width: 14px; height: 10px; border: 2px solid; margin-left: 6px; }}
.swatch.label {{ border-color: var(--label); }}
.swatch.text {{ border-color: var(--text); }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 18px;
  padding: 20px 24px; align-items: start; }}
.card {{ background: var(--card); border: 1px solid var(--line); border-radius: 10px; overflow: hidden;
  box-shadow: 0 1px 2px rgba(20, 30, 50, .06); }}
.stage {{ position: relative; aspect-ratio: 4 / 3; background: #232833; }}
.frame {{ position: absolute; }}
.frame img {{ display: block; width: 100%; height: 100%; }}
.placeholder {{ position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  color: #9aa4b5; font-size: 15px; letter-spacing: .04em; }}
.box {{ position: absolute; border: 2px solid;
  box-shadow: 0 0 0 1px rgba(0, 0, 0, .45), inset 0 0 0 1px rgba(0, 0, 0, .45); }}
.box.label {{ border-color: var(--label); }}
.box.text {{ border-color: var(--text); z-index: 1; }}
.box.label {{ z-index: 1; }}
.box.face {{ border-color: var(--face); z-index: 0; }}
.swatch.face {{ border-color: var(--face); }}
body.no-boxes .box, body.no-boxes .boxed {{ display: none; }}
.boxed {{ list-style: none; margin: 0; padding: 6px 14px 0; display: flex; flex-wrap: wrap; gap: 4px 10px;
  font-size: 12px; color: var(--muted); }}
.boxed li::before {{ content: ""; display: inline-block; width: 10px; height: 8px; margin-right: 5px;
  border: 2px solid var(--label); vertical-align: -1px; }}
.boxed li.text::before {{ border-color: var(--text); }}
.boxed li.face::before {{ border-color: var(--face); }}
.pager {{ display: flex; justify-content: center; align-items: center; gap: 14px; padding: 0 24px 28px; }}
.pager button {{ font: inherit; padding: 4px 12px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--card); color: var(--ink); cursor: pointer; }}
.pager button:disabled {{ opacity: .45; cursor: default; }}
.body {{ padding: 12px 14px 14px; }}
.key {{ margin: 0 0 8px; font-size: 15px; word-break: break-all; }}
.badges {{ display: flex; gap: 6px; margin-bottom: 10px; }}
.badge {{ font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 999px; }}
.badge.status-complete, .badge.clean {{ background: #e2f5e8; color: #17753a; }}
.badge.status-partial {{ background: #fff1cf; color: #7d5300; }}
.badge.status-failed {{ background: #fde3e1; color: #a3161a; }}
.badge.flagged {{ background: #b3261e; color: #fff; }}
.badge.unchecked {{ background: #eceff3; color: var(--muted); }}
.badge.simulated {{ background: #5b2a86; color: #fff; letter-spacing: .04em; }}
.simulated-notice {{ margin: 12px 0 0; padding: 8px 12px; border-radius: 6px; background: #f1e8fa;
  border: 1px solid #5b2a86; color: #3d1a5c; font-weight: 600; }}
.details {{ display: grid; grid-template-columns: 84px 1fr; gap: 6px 10px; margin: 0; }}
.details dt {{ color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
  padding-top: 2px; }}
.details dd {{ margin: 0; min-width: 0; overflow-wrap: anywhere; }}
.details ul {{ list-style: none; margin: 0; padding: 0; }}
.labels li {{ display: grid; grid-template-columns: minmax(0, 1fr) 70px 48px; gap: 8px;
  align-items: center; }}
.labels .bar {{ height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; }}
.labels .bar i {{ display: block; height: 100%; background: var(--label); }}
.labels .pct {{ text-align: right; color: var(--muted); font-variant-numeric: tabular-nums; }}
.text li + li {{ margin-top: 2px; }}
.text q {{ font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }}
.problem {{ color: #a3161a; }}
.none {{ color: var(--muted); font-style: italic; }}
.empty {{ text-align: center; color: var(--muted); padding: 40px; }}
"""

# Filters: label (select or a common-label chip), status, flagged only; the matching cards are shown a
# page at a time (a card's thumbnail is loaded when its page is first shown). The state lives in the URL
# fragment (#label=…&status=…&flagged=1&page=2) so a filtered view can be bookmarked or shared.
_SCRIPT = """
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var label = document.getElementById("f-label");
  var status = document.getElementById("f-status");
  var flagged = document.getElementById("f-flagged");
  var boxes = document.getElementById("f-boxes");
  var count = document.getElementById("f-count");
  var empty = document.getElementById("f-empty");
  var chips = Array.prototype.slice.call(document.querySelectorAll("[data-pick-label]"));
  var labelsOf = cards.map(function (card) { return JSON.parse(card.dataset.labels || "[]"); });
  var pageSize = parseInt(document.getElementById("cards").dataset.pageSize, 10) || 48;
  var pager = document.getElementById("pager");
  var pageText = document.getElementById("p-page");
  var prev = document.getElementById("p-prev");
  var next = document.getElementById("p-next");
  var page = 1;

  function showThumbnail(card) {
    var img = card.querySelector("img[data-src]");
    if (img) { img.src = img.dataset.src; img.removeAttribute("data-src"); }
  }

  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    select.value = known ? value : "";
  }

  function apply() {
    var matching = cards.filter(function (card, i) {
      card.hidden = true;
      return (!label.value || labelsOf[i].indexOf(label.value) >= 0) &&
        (!status.value || card.dataset.status === status.value) &&
        (!flagged.checked || card.dataset.flagged === "true");
    });
    var pages = Math.max(1, Math.ceil(matching.length / pageSize));
    page = Math.min(Math.max(1, page), pages);
    matching.slice((page - 1) * pageSize, page * pageSize).forEach(function (card) {
      card.hidden = false;
      showThumbnail(card);
    });
    count.textContent = "Showing " + matching.length + " of " + cards.length + " images";
    empty.hidden = matching.length > 0;
    pager.hidden = pages < 2;
    pageText.textContent = "Page " + page + " of " + pages;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
    document.body.classList.toggle("no-boxes", !boxes.checked);
    chips.forEach(function (chip) {
      var active = chip.dataset.pickLabel === label.value;
      chip.classList.toggle("active", active);
      chip.setAttribute("aria-pressed", String(active));
    });
  }

  function save() {
    var state = new URLSearchParams();
    if (label.value) { state.set("label", label.value); }
    if (status.value) { state.set("status", status.value); }
    if (flagged.checked) { state.set("flagged", "1"); }
    if (page > 1) { state.set("page", String(page)); }
    try {
      history.replaceState(null, "", "#" + state.toString());
    } catch (e) { /* some browsers refuse history changes on file:// pages; filtering still works */ }
  }

  function load() {
    var state = new URLSearchParams(location.hash.slice(1));
    choose(label, state.get("label") || "");
    choose(status, state.get("status") || "");
    flagged.checked = state.get("flagged") === "1";
    page = parseInt(state.get("page") || "1", 10) || 1;
  }

  [label, status, flagged].forEach(function (el) {
    el.addEventListener("change", function () { page = 1; apply(); save(); });
  });
  prev.addEventListener("click", function () { page -= 1; apply(); save(); window.scrollTo(0, 0); });
  next.addEventListener("click", function () { page += 1; apply(); save(); window.scrollTo(0, 0); });
  boxes.addEventListener("change", apply);
  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      choose(label, label.value === chip.dataset.pickLabel ? "" : chip.dataset.pickLabel);
      page = 1; apply(); save();
    });
  });
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  load();
  apply();
})();
"""
