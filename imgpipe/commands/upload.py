"""`imgpipe upload DIR`: put a folder's images under the input prefix, skipping unchanged ones."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..errors import CommandError
from ..files import LocalImage, image_key, key_prefix, scan_folder, sha256_of
from ..objects import SHA256_METADATA
from ..target import Target, add_target_options, open_target
from .common import describe_accounting, follow_hint, settle, status_console

TRANSFER = TransferConfig(max_concurrency=4)  # per file; files themselves go in parallel (--jobs)
# HeadObject of a missing key is a 404, or a 403 without s3:ListBucket: either way, upload it.
MISSING = {"404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden"}


@dataclass
class Transfers:
    uploaded: dict[str, str] = field(default_factory=dict)  # key -> version tag of the upload
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    bytes_sent: int = 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "upload",
        help="upload a folder's images (recursively; unchanged files are skipped)",
        description="Upload every image under FOLDER (by content: other files are skipped) to the "
        "input prefix, keeping relative paths. Files uploaded before with the same SHA-256 are skipped.",
    )
    parser.add_argument("folder", type=Path, help="the folder to upload")
    parser.add_argument("--prefix", default="", help="key prefix under the input prefix, e.g. trip-2026/")
    parser.add_argument("--jobs", type=int, default=8, help="files transferred in parallel (default: 8)")
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
    skipped = len(scan.not_images) + len(scan.unreadable)
    for path, why in scan.unreadable:
        status.print(f"[yellow]Skipped {path}: {why}")
    if not scan.images:
        raise CommandError(f"No images in {folder} ({skipped} other file(s)); nothing to upload.")
    prefix = key_prefix(args.prefix)
    with open_target(args, status, creates=True, saves=True) as target, target.processing():
        transfers = transfer(target, scan.images, prefix, max(1, args.jobs), status)
        accounting = settle(target, transfers.uploaded, args, status) if transfers.uploaded else None
    console.print(
        f"Uploaded {len(transfers.uploaded)} image(s) ({transfers.bytes_sent / 1e6:.1f} MB) to "
        f"s3://{target.bucket}/{target.layout.input_prefix}{prefix}; "
        f"{len(transfers.unchanged)} unchanged since an earlier upload; "
        f"{len(scan.not_images)} file(s) skipped as not images."
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


def transfer(target: Target, images: list[LocalImage], prefix: str, jobs: int, status: Console) -> Transfers:
    """Upload in parallel with a byte progress bar; compare SHA-256 metadata to skip unchanged files."""
    done = Transfers()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=status) as progress, ThreadPoolExecutor(jobs) as pool:
        task = progress.add_task(f"Uploading {len(images)} image(s)", total=sum(i.size for i in images))

        def advance(sent: int) -> None:
            progress.advance(task, sent)

        futures = {
            pool.submit(_upload_one, target, image, image_key(target.layout, prefix, image), advance): image
            for image in images
        }
        for future in as_completed(futures):
            image = futures[future]
            try:
                key, version = future.result()
            except (OSError, ClientError, BotoCoreError) as exc:
                done.failed.append((image.relative, str(exc)))
                continue
            if version is None:
                done.unchanged.append(key)
            else:
                done.uploaded[key] = version
                done.bytes_sent += image.size
    return done


def _upload_one(target: Target, image: LocalImage, key: str, advance: Any) -> tuple[str, str | None]:
    """(key, version tag uploaded) or (key, None) when the same bytes are already there."""
    digest = sha256_of(image.path)
    head = _head(target, key)
    if head is not None and head.get("Metadata", {}).get(SHA256_METADATA) == digest:
        advance(image.size)
        return key, None
    target.s3.upload_file(
        str(image.path),
        target.bucket,
        key,
        ExtraArgs={"Metadata": {SHA256_METADATA: digest}, "ContentType": image.content_type},
        Callback=advance,
        Config=TRANSFER,
    )
    head = _head(target, key) or {}
    return key, head.get("VersionId") or str(head.get("ETag", "")).strip('"')


def _head(target: Target, key: str) -> dict[str, Any] | None:
    try:
        response: dict[str, Any] = target.s3.head_object(Bucket=target.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            return None
        raise
    return response
