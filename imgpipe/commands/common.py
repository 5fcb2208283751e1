"""Helpers the commands share: consoles, JSON output, waiting for the pipeline, key display."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from image_analysis.domain.states import FINAL_STATUSES
from rich.console import Console

from ..target import Target

if TYPE_CHECKING:
    from ..local.runner import Accounting


def output_console() -> Console:
    """Results (tables, summaries) on stdout."""
    return _console(stderr=False)


def status_console() -> Console:
    """Progress and notes go to stderr, so stdout carries only results (tables, --json)."""
    return _console(stderr=True)


def _console(*, stderr: bool) -> Console:
    """Rich's console: colour unless NO_COLOR is set (rich honours it), as wide as the terminal.

    To a file, pipe or CI log there are no escape codes and no progress bars (the commands disable
    them off a terminal), lines are not wrapped (a grep finds a whole message), and tables are as wide
    as COLUMNS says, else 160 columns."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 160
    return Console(stderr=stderr, width=width, soft_wrap=True)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


def shown_key(target: Target, image_key: str) -> str:
    """An image key as operators name it: relative to the input prefix."""
    prefix = target.layout.input_prefix
    return image_key[len(prefix) :] if image_key.startswith(prefix) else image_key


def settle(
    target: Target,
    expected: Mapping[str, str | None],
    args: argparse.Namespace,
    status: Console,
    previous: Mapping[str, str] | None = None,
) -> Accounting | None:
    """Wait until the pipeline has a final record for each expected key (version tag or None).

    The local stack always waits (its queue is not part of the snapshot); a deployed stack only with
    --wait, since its Lambda keeps working after the command returns.
    """
    if target.local is None and not getattr(args, "wait", False):
        return None
    from ..local.runner import wait_for  # reads the table and queues; deployed stacks use it too

    return wait_for(target, target.settings, expected, [], args.timeout, status, previous)


def describe_accounting(accounting: Accounting) -> tuple[str, bool]:
    """One line about how the work ended, and whether every image is accounted for."""
    statuses = Counter(
        record["status"] for key, record in accounting.final.items() if key in accounting.uploaded
    )
    parts = [f"{statuses.get(s, 0)} {s}" for s in FINAL_STATUSES]
    dead = len(accounting.dead_letters & set(accounting.uploaded))
    line = f"Analysed {sum(statuses.values())} image(s): " + ", ".join(parts)
    if dead:
        line += f"; {dead} in the dead-letter queue (retries exhausted)"
    missing = accounting.unaccounted
    if missing:
        line += f"; [red]{len(missing)} not finished[/red] (e.g. {sorted(missing)[0]})"
    return line + ".", not missing


def follow_hint(target: Target, args: argparse.Namespace) -> str:
    where = f" --stack {args.stack}" + (f" --region {args.region}" if args.region else "")
    return (
        f"The stack's Lambda analyses them now; follow with `imgpipe stats{where}` "
        "(or pass --wait next time)."
    )
