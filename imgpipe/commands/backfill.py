"""`imgpipe backfill [PREFIX]`: send images already in the bucket through the pipeline.

S3 event notifications fire for new uploads only; backfill lists the bucket and enqueues the same
S3 event shape (eventName `imgpipe:Backfill`, see image_analysis.domain.intake). Without --force, an image
whose record is final for its current object version is skipped, unless some analysis' settings changed
since (its fingerprint, image_analysis/fingerprints.py): then it is refreshed, and the function runs
again only those analyses. With --force every image is analysed again in full, bypassing the cache.

Resumable: after each listed page is enqueued (locally: also analysed and saved), the last key is
written to a checkpoint; a rerun continues after it (ListObjectsV2 StartAfter) until the listing ends.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from image_analysis.domain.intake import BACKFILL_EVENT
from image_analysis.domain.states import FINAL_STATUSES
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..arguments import key_prefix as key_prefix_arg
from ..arguments import whole_number
from ..errors import CommandError
from ..results import get_records
from ..target import Target, add_target_options, open_target
from .common import describe_accounting, follow_hint, settle, status_console

SQS_BATCH = 10
SEND_ATTEMPTS = 5


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class Work:
    """One image to enqueue; `before` is its record's updated_at (None: no record yet)."""

    key: str
    etag: str
    size: int
    version_id: str | None
    before: str | None
    refresh: frozenset[str] = frozenset()  # analyses whose settings changed (a final record's refresh)


@dataclass
class Totals:
    examined: int = 0
    enqueued: int = 0
    complete: bool = True
    lines: list[str] = field(default_factory=list)
    refreshes: int = 0  # images whose changed analyses alone run again
    refreshed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    scope: dict[str, Any]  # bucket, prefix and --force: a checkpoint only resumes the same backfill

    def load(self) -> str | None:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("scope") != self.scope:
            return None
        last = saved.get("last_key")
        return last if isinstance(last, str) else None

    def save(self, last_key: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"scope": self.scope, "last_key": last_key}))
        temporary.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


HELP = """\
Analyse images that are already in the bucket: uploads made before the stack existed, or every image
again after a change of model, threshold or analysis switch (--force).

Without --force, images analysed in their current version are skipped, so a rerun picks up only what
never ran or failed half-way, and images whose analyses were made under other settings (embeddings
switched on, another model, a new threshold) are refreshed: only the analyses whose settings changed
run again. A long run can be interrupted: run the same command again and it
continues where it stopped (--restart starts over).

examples:
  imgpipe backfill                                  what is not analysed yet, on the local stack
  imgpipe backfill trip-2026/ --stack ImagePipeline --wait
  imgpipe backfill --force --context labels_min_confidence=90 --simulated-ai
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backfill",
        help="enqueue images already in the bucket (--force: reprocess done ones)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "prefix",
        nargs="?",
        type=key_prefix_arg,
        default="",
        help="only keys under this folder-like prefix (relative to the input prefix), e.g. trip-2026/",
    )
    parser.add_argument(
        "--force", action="store_true", help="reprocess images that are done (model or threshold change)"
    )
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file (default: in the state directory)")
    parser.add_argument("--restart", action="store_true", help="ignore an interrupted run's checkpoint")
    parser.add_argument(
        "--page-size",
        type=whole_number(1, 1000),
        default=1000,
        help="keys listed per page and checkpoint (1-1000; default 1000)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="deployed stack: wait until every image is analysed"
    )
    add_target_options(parser, pipeline=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    status = status_console()
    if not 1 <= args.page_size <= 1000:
        raise CommandError("--page-size must be between 1 and 1000", exit_code=2)
    with open_target(args, status) as target:
        prefix = (
            args.prefix
            if args.prefix.startswith(target.layout.input_prefix)
            else (target.layout.input_prefix + args.prefix)
        )
        checkpoint = Checkpoint(
            path=args.checkpoint or args.state_dir / _checkpoint_name(args),
            scope={"bucket": target.bucket, "prefix": prefix, "force": args.force},
        )
        start_after = None if args.restart else checkpoint.load()
        if start_after:
            status.print(f"Resuming after {start_after!r} ({checkpoint.path}; --restart starts over).")
        totals = Totals()
        with target.processing():
            for page in _pages(target, prefix, start_after, args.page_size):
                work = _plan(target, page, args.force, status)
                totals.refreshed.update(name for w in work for name in w.refresh)
                totals.refreshes += sum(1 for w in work if w.refresh)
                _enqueue(target, work, args.force)
                totals.examined += len(page)
                totals.enqueued += len(work)
                if not work:
                    checkpoint.save(page[-1].key)
                    continue
                accounting = settle(
                    target,
                    {w.key: w.version_id for w in work},
                    args,
                    status,
                    previous={w.key: w.before for w in work if w.before},
                )
                if accounting is not None:
                    line, complete = describe_accounting(accounting)
                    totals.lines.append(line)
                    totals.complete &= complete
                if target.local is not None:
                    target.local.save()
                checkpoint.save(page[-1].key)  # everything up to here is enqueued (locally: analysed)
        checkpoint.clear()
    skipped = totals.examined - totals.enqueued
    console.print(
        f"Examined {totals.examined} object(s) under s3://{target.bucket}/{prefix}: "
        f"enqueued {totals.enqueued}"
        + ("" if args.force else f", skipped {skipped} already analysed in their current version")
        + "."
    )
    if totals.refreshes:
        console.print(
            f"{totals.refreshes} of them were analysed before under other settings: only "
            f"{', '.join(sorted(totals.refreshed))} ran again."
        )
    for line in totals.lines:
        console.print(line)
    if totals.enqueued and target.local is None and not args.wait:
        console.print(follow_hint(target, args))
    return 0 if totals.complete else 1


def _checkpoint_name(args: argparse.Namespace) -> str:
    if not args.stack:
        return "backfill-checkpoint.json"
    return f"backfill-checkpoint-{args.stack}-{args.region or 'default'}.json"


def _pages(target: Target, prefix: str, start_after: str | None, page_size: int) -> Any:
    request: dict[str, Any] = {"Bucket": target.bucket, "Prefix": prefix, "MaxKeys": page_size}
    if start_after:
        request["StartAfter"] = start_after
    for response in target.s3.get_paginator("list_objects_v2").paginate(**request):
        page = [
            Listed(o["Key"], o["ETag"].strip('"'), int(o.get("Size", 0)))
            for o in response.get("Contents", [])
            if target.layout.is_image_key(o["Key"])
        ]
        if page:
            yield page


def _plan(target: Target, page: list[Listed], force: bool, status: Console) -> list[Work]:
    """The page's images that need (re)processing."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=status, transient=True, disable=not status.is_terminal) as progress:
        task = progress.add_task("Checking records", total=len(page))
        records = get_records(
            target,
            [o.key for o in page],
            attributes=("status", "version_tag", "updated_at", "analysis_fingerprints"),
        )
        work: list[Work] = []
        to_check: list[tuple[Listed, dict[str, Any]]] = []
        for listed in page:
            record = records.get(listed.key)
            if record is None:
                work.append(Work(listed.key, listed.etag, listed.size, None, None))
            elif force or record.get("status") not in FINAL_STATUSES:
                work.append(Work(listed.key, listed.etag, listed.size, None, record.get("updated_at")))
            elif record.get("version_tag") != listed.etag:
                to_check.append((listed, record))  # versioned bucket: the record names a version id
                continue
            elif stale := _stale(target, record):
                work.append(Work(listed.key, listed.etag, listed.size, None, record.get("updated_at"), stale))
            progress.advance(task)

        def current(item: tuple[Listed, dict[str, Any]]) -> Work | None:
            listed, record = item
            head = target.s3.head_object(Bucket=target.bucket, Key=listed.key)
            progress.advance(task)
            version = head.get("VersionId")
            before = record.get("updated_at")
            if (version or head["ETag"].strip('"')) != record.get("version_tag"):
                return Work(listed.key, listed.etag, listed.size, version, before)
            stale = _stale(target, record)  # final for the current version: refreshed, or nothing to do
            return Work(listed.key, listed.etag, listed.size, version, before, stale) if stale else None

        with ThreadPoolExecutor(8) as pool:
            work += [w for w in pool.map(current, to_check) if w is not None]
    return sorted(work, key=lambda w: w.key)


def _stale(target: Target, record: dict[str, Any]) -> frozenset[str]:
    """The analyses of a final record made under other settings than the function's (all of them for
    a record made before per-analysis fingerprints); none when the target's are unknown."""
    current = target.analysis_fingerprints
    if current is None:
        return frozenset()  # a stack deployed before its output existed: nothing to compare with
    recorded = record.get("analysis_fingerprints") or {}
    return frozenset(name for name, fingerprint in current.items() if recorded.get(name) != fingerprint)


def message(bucket: str, work: Work, force: bool) -> str:
    """An S3 event notification (one record) as image_analysis.domain.intake.parse_body reads it."""
    obj: dict[str, Any] = {"key": quote_plus(work.key, safe="/"), "size": work.size, "eTag": work.etag}
    if work.version_id:
        obj["versionId"] = work.version_id
    record: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "imgpipe:backfill",
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": BACKFILL_EVENT,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }
    if force:
        record["imgpipe"] = {"force": True}
    elif work.refresh:
        record["imgpipe"] = {"refresh": True}
    return json.dumps({"Records": [record]})


def _enqueue(target: Target, work: list[Work], force: bool) -> None:
    """SendMessageBatch in tens; entries SQS fails for its own reasons are sent again."""
    for start in range(0, len(work), SQS_BATCH):
        entries = [
            {"Id": str(n), "MessageBody": message(target.bucket, w, force)}
            for n, w in enumerate(work[start : start + SQS_BATCH])
        ]
        for attempt in range(SEND_ATTEMPTS):
            failed = target.sqs.send_message_batch(QueueUrl=target.queue_url, Entries=entries).get(
                "Failed", []
            )
            if not failed:
                break
            if any(f.get("SenderFault") for f in failed):
                raise CommandError(f"SQS refused a backfill message: {failed[0].get('Message')}")
            retry = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in retry]
            time.sleep(0.2 * 2**attempt)
        else:
            raise CommandError(
                f"SQS kept failing {len(entries)} backfill message(s); run backfill again to resume"
            )
