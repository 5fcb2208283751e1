"""Accounting helpers for the reliability suite: where every uploaded key ended up, waited for with a
deadline that fails with the whole picture instead of hanging."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from image_analysis.domain.intake import MalformedMessage, parse_body

from imgpipe.local import emulator, runner
from tests.e2e.harness import LocalPipeline


@dataclass
class Snapshot:
    """One look at the pipeline: final records, the DLQ's keys and the queue's depth."""

    final: dict[str, dict[str, Any]]
    dead_letters: Counter[str]  # key -> messages about it in the DLQ
    queued: int

    def settled(self, keys: Iterable[str]) -> set[str]:
        return {k for k in keys if k in self.final or k in self.dead_letters}


def snapshot(pipeline: LocalPipeline) -> Snapshot:
    final = runner.final_records(pipeline.stack, pipeline.settings)
    queued = pipeline.queue_depth()
    return Snapshot(final=final, dead_letters=dead_letter_counts(pipeline), queued=queued)


def dead_letter_counts(pipeline: LocalPipeline) -> Counter[str]:
    """How many DLQ messages name each key (peeked, never taken off the queue)."""
    url = pipeline.stack.dead_letter_queue_url
    found: Counter[str] = Counter()
    if url is None:
        return found
    for message in emulator.peek_messages(pipeline.stack.sqs, url):
        try:
            found.update(event.key for event in parse_body(message["Body"]))
        except MalformedMessage:
            found["<malformed>"] += 1
    return found


def describe_unsettled(pipeline: LocalPipeline, keys: Iterable[str], limit: int = 15) -> str:
    """Each key's record (status, last error) or its absence: what a timed-out test reports."""
    lines = []
    for key in sorted(keys)[:limit]:
        record = pipeline.record(key)
        if record is None:
            lines.append(f"  {key!r}: no record")
        else:
            lines.append(
                f"  {key!r}: status={record.get('status')} attempts={record.get('attempts')} "
                f"last_error={str(record.get('last_error'))[:200]!r}"
            )
    return "\n".join(lines)


def wait_settled(pipeline: LocalPipeline, keys: Iterable[str], deadline_s: float, what: str) -> Snapshot:
    """Until every key has a final record or a DLQ message and the queue is empty; at the deadline,
    fail with counts and the records of the keys still open."""
    wanted = set(keys)
    deadline = time.monotonic() + deadline_s
    while True:
        look = snapshot(pipeline)
        open_keys = wanted - look.settled(wanted)
        if not open_keys and look.queued == 0:
            return look
        if time.monotonic() > deadline:
            statuses = Counter(r["status"] for k, r in look.final.items() if k in wanted)
            raise AssertionError(
                f"{what}: after {deadline_s:.0f} s, {len(open_keys)} of {len(wanted)} key(s) have neither "
                f"a final record nor a DLQ message; {look.queued} message(s) still queued or in flight; "
                f"final so far {dict(statuses)}, in the DLQ {sum(look.dead_letters.values())}.\n"
                f"Open keys:\n{describe_unsettled(pipeline, open_keys)}"
            )
        time.sleep(0.5)


def log_by_key(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        key = line.get("correlation_id")
        if key:
            found.setdefault(key, []).append(line)
    return found


def analysed(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("message") == "image analysed"]


def transient(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "transient failure" in str(line.get("message"))]


class LogTail:
    """The workers' structured log lines, read incrementally (new files and appended lines): a way to
    follow a long run without querying the emulated table, whose queries scan every item."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}

    def new_lines(self) -> list[dict[str, Any]]:
        found = []
        for log in sorted(self.folder.glob("worker-*.log")):
            with log.open("rb") as handle:
                handle.seek(self.offsets.get(log, 0))
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for next time
            self.offsets[log] = self.offsets.get(log, 0) + len(complete)
            for raw in complete.decode("utf-8", errors="replace").splitlines():
                if raw.startswith("{"):
                    try:
                        found.append(json.loads(raw))
                    except ValueError:
                        continue
        return found
