"""`imgpipe upload DIR`: put a folder's images under the input prefix, skipping unchanged ones."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ..arguments import key_prefix as key_prefix_arg
from ..arguments import whole_number
from ..errors import CommandError
from ..files import scan_folder
from ..target import MAX_JOBS, add_target_options, open_target
from ..uploads import report_skipped, transfer
from .common import describe_accounting, follow_hint, settle, status_console


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "upload",
        help="upload a folder's images (recursively; unchanged files are skipped)",
        description="Upload every image under FOLDER, keeping relative paths (FOLDER/trip/a.jpg becomes "
        "images/trip/a.jpg, or images/PREFIX/trip/a.jpg with --prefix). Images are recognised by content; "
        "other files, hidden files and imgpipe's own .txt/.json results are skipped and counted. Files "
        "already uploaded with the same content are skipped, so a rerun continues an interrupted upload. "
        "On the local stack the images are analysed before it returns; on a deployed stack (--stack) its "
        "Lambda analyses them (--wait waits for it).",
    )
    parser.add_argument("folder", type=Path, help="the folder to upload")
    parser.add_argument(
        "--prefix", type=key_prefix_arg, default="", help="key prefix under the input prefix, e.g. trip-2026/"
    )
    parser.add_argument(
        "--jobs", type=whole_number(1, MAX_JOBS), default=8, help="files transferred in parallel (default: 8)"
    )
    parser.add_argument(
        "--wait", action="store_true", help="deployed stack: wait until every upload is analysed"
    )
    add_target_options(parser, pipeline=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    status = status_console()
    folder: Path = args.folder
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder", exit_code=2)
    scan = scan_folder(folder)
    report_skipped(scan, status)
    if not scan.images:
        raise CommandError(
            f"No images in {folder} ({scan.skipped_summary() or 'no files'}); nothing to upload.", exit_code=2
        )
    prefix: str = args.prefix
    with open_target(args, status, creates=True, saves=True) as target, target.processing():
        transfers = transfer(target, scan.images, prefix, args.jobs, status)
        accounting = settle(target, transfers.uploaded, args, status) if transfers.uploaded else None
    console.print(
        f"Uploaded {len(transfers.uploaded)} image(s) ({transfers.bytes_sent / 1e6:.1f} MB) to "
        f"s3://{target.bucket}/{target.layout.input_prefix}{prefix}; "
        f"{len(transfers.unchanged)} unchanged since an earlier upload"
        + (f"; {scan.skipped_summary()}." if scan.skipped_summary() else ".")
    )
    for relative, why in transfers.failed:
        console.print(f"[red]Failed to upload {relative}: {why}")
    complete = True
    if accounting is not None:
        line, complete = describe_accounting(accounting)
        console.print(line)
    elif transfers.uploaded:
        console.print(follow_hint(target, args))
    return 0 if complete and not transfers.failed else 1
