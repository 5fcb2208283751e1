"""`imgpipe report --out DIR`: report.md and report.html for the marketing team (rendering: imgpipe.report).

Gathers the final records (by-status index, optionally a date range or key prefix), reads each
image's JSON result document from S3 (the full result model, boxes included) and a thumbnail of the
image itself, then writes what `imgpipe.report.render_report` produces.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from image_analysis.domain import table as t
from image_analysis.domain.models import ImageError, ImageInfo, ImageResult
from image_analysis.domain.states import FINAL_STATUSES, ImageStatus
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..arguments import whole_number
from ..errors import CommandError
from ..results import TimeRange, query_index
from ..target import MAX_JOBS, Target, add_target_options, open_target
from .common import status_console
from .query import iso_bound

DEFAULT_TITLE = "Image analysis report"

HELP = """\
Write report.md (a summary to paste anywhere) and report.html (one self-contained page with
thumbnails, label and text boxes and filters; it loads nothing from the network) about the analysed
images, to --out (default report/).

examples:
  imgpipe report                                     every analysed image of the local stack
  imgpipe report --since 2026-11-01 --prefix trip/ --out trip-report/
  imgpipe report --stack ImagePipeline --no-thumbnails
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="write report.md and report.html about the analysed images",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder (default: report/)")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the report's title")
    parser.add_argument(
        "--prefix", default="", help="only images under this key prefix (relative to the input prefix)"
    )
    parser.add_argument("--since", type=iso_bound, help="only images analysed at or after (ISO date or time)")
    parser.add_argument("--until", type=iso_bound, help="only images analysed at or before (inclusive)")
    parser.add_argument(
        "--no-thumbnails", action="store_true", help="do not download the images for thumbnails"
    )
    parser.add_argument(
        "--jobs", type=whole_number(1, MAX_JOBS), default=8, help="downloads in parallel (default: 8)"
    )
    add_target_options(parser)
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class Written:
    markdown: Path
    html: Path
    images: int


def run(args: argparse.Namespace, console: Console) -> int:
    status = status_console()
    check_out(args.out)
    with open_target(args, status) as target:
        written = write(
            target,
            args.out,
            status,
            title=args.title,
            prefix=args.prefix,
            times=TimeRange(args.since, args.until),
            thumbnails=not args.no_thumbnails,
            jobs=args.jobs,
        )
    console.print(
        f"Wrote {written.markdown} and {written.html} ({written.images} image(s)); "
        "the HTML page is self-contained: open it in a browser or send it as is."
    )
    return 0


def check_out(out: Path) -> None:
    """Refuse an --out that cannot be a folder before anything is read."""
    blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise CommandError(f"--out {out}: {blocker} is a file, not a folder; pass another --out", exit_code=2)


def write(
    target: Target,
    out: Path,
    status: Console,
    *,
    title: str = DEFAULT_TITLE,
    prefix: str = "",
    times: TimeRange | None = None,
    thumbnails: bool = True,
    jobs: int = 8,
) -> Written:
    """report.md and report.html about the final records under `prefix`, in `out`."""
    from ..report import make_thumbnail, render_report

    under = target.layout.input_prefix + prefix.lstrip("/")
    records = [
        r
        for status_name in FINAL_STATUSES
        for r in query_index(target, t.BY_STATUS, t.status_pk(status_name), times=times or TimeRange())
        if r["image_key"].startswith(under)
    ]
    if not records:
        raise CommandError(f"No analysed images in the {target.name} match; nothing to report.")
    records.sort(key=lambda r: r["image_key"])
    results, images = _fetch(target, records, thumbnails, max(1, jobs), status, make_thumbnail)
    markdown, html = render_report(results, images, title=title)
    check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    written = Written(out / "report.md", out / "report.html", len(results))
    written.markdown.write_text(markdown, encoding="utf-8")
    written.html.write_text(html, encoding="utf-8")
    return written


def _fetch(
    target: Target,
    records: list[dict[str, Any]],
    thumbnails_wanted: bool,
    jobs: int,
    status: Console,
    make_thumbnail: Any,
) -> tuple[list[ImageResult], dict[str, bytes]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    thumbnails: dict[str, bytes] = {}
    with (
        Progress(*columns, console=status, transient=True, disable=not status.is_terminal) as progress,
        ThreadPoolExecutor(jobs) as pool,
    ):
        task = progress.add_task("Reading results", total=len(records))

        def one(record: dict[str, Any]) -> ImageResult:
            result = _result(target, record)
            if thumbnails_wanted:
                data = _get(target, record["image_key"])
                thumbnail = make_thumbnail(data) if data else None
                if thumbnail:
                    thumbnails[record["image_key"]] = thumbnail
            progress.advance(task)
            return result

        results = list(pool.map(one, records))
    return results, thumbnails


def _result(target: Target, record: dict[str, Any]) -> ImageResult:
    """The result document; for an image whose result keys would not fit, the record's own facts."""
    document = _get(target, record["result_key"]) if record.get("result_key") else None
    if document is not None:
        return ImageResult.from_dict(json.loads(document))
    error = ImageError(code=record.get("error_code") or "", message=record.get("error_message") or "")
    return ImageResult(
        image=ImageInfo(
            bucket=record.get("bucket") or target.bucket,
            key=record["image_key"],
            version_id=None,
            etag=None,
            size_bytes=int(record.get("size_bytes") or 0),
            sha256=record.get("sha256"),
        ),
        status=ImageStatus(record["status"]),
        processed_at=record.get("processed_at") or record.get("updated_at") or "",
        settings_fingerprint=record.get("settings_fingerprint") or "",
        error=error if record.get("error_code") else None,
    )


def _get(target: Target, key: str) -> bytes | None:
    try:
        body: bytes = target.s3.get_object(Bucket=target.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return body
