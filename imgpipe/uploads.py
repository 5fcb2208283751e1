"""The one upload path of `imgpipe upload` and `imgpipe local`: which images go (imgpipe.files decides
what is an image), which are unchanged, and parallel transfers that keep what finished when interrupted.

Unchanged: the object's `sha256` metadata equals the file's (one HeadObject; ETags are not MD5s for
multipart uploads). Locally the image must also have a final record made under the current analysis
settings: the emulated queue is not kept between runs, so an upload whose analysis never finished
(an interrupted run), or was made without AI and is now wanted with it, is sent again.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from image_analysis.domain.states import FINAL_STATUSES
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from .files import FolderScan, LocalImage, image_key, sha256_of
from .objects import SHA256_METADATA
from .results import get_record
from .target import Target

TRANSFER = TransferConfig(max_concurrency=4)  # per file; files themselves go in parallel (--jobs)
# HeadObject of a missing key is a 404, or a 403 without s3:ListBucket: either way, upload it.
MISSING = {"404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden"}


@dataclass
class Transfers:
    uploaded: dict[str, str] = field(default_factory=dict)  # key -> version tag of the upload
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    bytes_sent: int = 0


class UploadInterrupted(KeyboardInterrupt):
    """Ctrl-C during the transfers: the ones under way finished, no new one started."""

    def __init__(self, done: Transfers, total: int) -> None:
        super().__init__(
            f"Interrupted after {len(done.uploaded)} of {total} image(s) were uploaded "
            f"({len(done.unchanged)} unchanged): what finished is kept. Run the same command again "
            "to continue; finished images are skipped as unchanged."
        )
        self.done = done


def transfer(target: Target, images: list[LocalImage], prefix: str, jobs: int, status: Console) -> Transfers:
    """Upload in parallel with a byte progress bar, skipping unchanged files."""
    done = Transfers()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    fingerprint = target.local.fingerprint if target.local else None
    with Progress(*columns, console=status, disable=not status.is_terminal) as progress:
        task = progress.add_task(f"Uploading {len(images)} image(s)", total=sum(i.size for i in images))

        def one(image: LocalImage) -> tuple[str, str | None]:
            key = image_key(target.layout, prefix, image)
            return _upload_one(target, image, key, fingerprint, lambda sent: progress.advance(task, sent))

        pool = ThreadPoolExecutor(jobs)
        futures = {pool.submit(one, image): image for image in images}
        accounted: set[Future[tuple[str, str | None]]] = set()
        try:
            for future in as_completed(futures):
                _account(done, futures[future], future)
                accounted.add(future)
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)  # let transfers under way finish; start no more
            for future, image in futures.items():
                if future in accounted or not future.done() or future.cancelled():
                    continue
                if not isinstance(future.exception(), KeyboardInterrupt):  # else: the transfer stopped
                    _account(done, image, future)
            raise UploadInterrupted(done, len(images)) from None
        finally:
            pool.shutdown(wait=True)
    return done


def _account(done: Transfers, image: LocalImage, future: Future[tuple[str, str | None]]) -> None:
    try:
        key, version = future.result()
    except (OSError, ClientError, BotoCoreError) as exc:
        done.failed.append((image.relative, str(exc)))
        return
    if version is None:
        done.unchanged.append(key)
    else:
        done.uploaded[key] = version
        done.bytes_sent += image.size


def _upload_one(
    target: Target, image: LocalImage, key: str, fingerprint: str | None, advance: Any
) -> tuple[str, str | None]:
    """(key, version tag uploaded) or (key, None) when the file is unchanged (see the module docstring)."""
    digest = sha256_of(image.path)
    if _unchanged(target, key, digest, fingerprint):
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


def _unchanged(target: Target, key: str, digest: str, fingerprint: str | None) -> bool:
    head = _head(target, key)
    if head is None or head.get("Metadata", {}).get(SHA256_METADATA) != digest:
        return False
    if fingerprint is None:  # a deployed stack's Lambda works through what was uploaded
        return True
    record = get_record(target, key)
    return (
        record is not None
        and record.get("status") in FINAL_STATUSES
        and record.get("settings_fingerprint") == fingerprint
    )


def _head(target: Target, key: str) -> dict[str, Any] | None:
    try:
        response: dict[str, Any] = target.s3.head_object(Bucket=target.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            return None
        raise
    return response


def report_skipped(scan: FolderScan, status: Console, most: int = 10) -> None:
    """Name what is not uploaded (stderr), a few of each kind: nothing is skipped silently."""
    for path, why in scan.unreadable:
        status.print(f"[yellow]Skipped {path}: {why}", highlight=False)
    for what, paths in (("not an image", scan.not_images), ("hidden", scan.hidden)):
        shown = ", ".join(str(p) for p in paths[:most]) + (
            f" and {len(paths) - most} more" if len(paths) > most else ""
        )
        if paths:
            status.print(f"Skipped ({what}): {shown}", highlight=False)
