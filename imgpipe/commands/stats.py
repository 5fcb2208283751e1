"""`imgpipe stats`: counts by status, flagged images, queue depths, tokens and estimated cost so far."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

from image_analysis.domain import table as t
from image_analysis.domain.models import SIMULATED_NOTICE
from image_analysis.domain.states import ALL_STATUSES, FINAL_STATUSES, AnalysisStatus, ImageStatus
from rich.console import Console
from rich.table import Table

from .. import recordview as view
from ..results import count_index, query_index
from ..target import Target, add_target_options, open_target
from .common import print_json, status_console

COST_ATTRIBUTES = ("input_tokens", "output_tokens", "cost_usd")
READ_ATTRIBUTES = (*COST_ATTRIBUTES, "status", "outcomes", "simulated")
AI_ANALYSES = ("location", "labels", "text", "moderation")
# How an analysis went on an analysed (complete or partial) image; "unknown": a record older than outcomes
OUTCOME_COLUMNS = (*(s.value for s in AnalysisStatus), "unknown")


@dataclass(frozen=True)
class Stats:
    statuses: dict[str, int]  # every status, 0 included
    flagged: int
    queued: int  # waiting or being analysed
    dead_letters: int | None  # None: the stack has no dead-letter queue output
    input_tokens: int
    output_tokens: int
    estimated_cost_usd: float
    simulated: int  # final records the simulated AI services answered for
    # analysis -> outcome -> images (complete and partial ones: a refused image ran no analysis)
    analyses: dict[str, dict[str, int]]

    @property
    def images(self) -> int:
        return sum(self.statuses.values())


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "stats",
        help="counts by status, flagged images, queue depths, tokens and estimated cost",
        description="How many images are complete, partial, failed or still being analysed; how many "
        "moderation flagged; what waits in the queue and the dead-letter queue; the Bedrock tokens and "
        "estimated cost so far (a reanalysed image counts its latest analysis); and, per analysis, on how "
        "many images it ran, was skipped or failed. --json for scripts.",
    )
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON (for scripts)")
    add_target_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    with open_target(args, status_console()) as target:
        stats = gather(target)
    if args.json:
        print_json({**asdict(stats), "images": stats.images})
        return 0
    console.print(render(stats, target))
    if stats.simulated:
        console.print(f"[yellow]{stats.simulated:,} image(s): {SIMULATED_NOTICE}", highlight=False)
    if stats.images == 0:
        console.print("The results table is empty: upload images with `imgpipe upload DIR`.")
    return 0


def gather(target: Target) -> Stats:
    statuses: dict[str, int] = {
        status: count_index(target, t.BY_STATUS, t.status_pk(status)) for status in ALL_STATUSES
    }
    input_tokens = output_tokens = simulated = 0
    cost = 0.0
    analyses = {name: dict.fromkeys(OUTCOME_COLUMNS, 0) for name in AI_ANALYSES}
    for status in FINAL_STATUSES:
        for record in query_index(target, t.BY_STATUS, t.status_pk(status), attributes=READ_ATTRIBUTES):
            input_tokens += int(record.get("input_tokens") or 0)
            output_tokens += int(record.get("output_tokens") or 0)
            cost += float(record.get("cost_usd") or 0.0)
            simulated += bool(record.get("simulated"))
            if status != ImageStatus.FAILED:
                for name, counts in analyses.items():
                    outcome = view.outcome(record, name)
                    counts[outcome.status if outcome else "unknown"] += 1
    dlq = target.dead_letter_queue_url
    return Stats(
        statuses=statuses,
        flagged=count_index(target, t.FLAGGED, t.FLAGGED_PK),
        queued=target.queue_depth(target.queue_url),
        dead_letters=target.queue_depth(dlq) if dlq else None,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        estimated_cost_usd=round(cost, 6),
        simulated=simulated,
        analyses=analyses,
    )


def render(stats: Stats, target: Target) -> Table:
    table = Table(title=f"imgpipe stats: {target.name}", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("images", f"{stats.images:,}")
    for status, count in stats.statuses.items():
        table.add_row(f"  {status}", f"{count:,}")
    table.add_row("flagged by moderation", f"{stats.flagged:,}")
    table.add_row("in queue (waiting or in flight)", f"{stats.queued:,}")
    table.add_row("in dead-letter queue", "n/a" if stats.dead_letters is None else f"{stats.dead_letters:,}")
    table.add_row("Bedrock input tokens", f"{stats.input_tokens:,}")
    table.add_row("Bedrock output tokens", f"{stats.output_tokens:,}")
    table.add_row("estimated cost (USD)", f"{stats.estimated_cost_usd:.4f}")
    table.add_row("answered by SIMULATED AI services", f"{stats.simulated:,}")
    for name, counts in stats.analyses.items():
        table.add_row(
            f"{name}: ran / skipped / failed", " / ".join(f"{counts[c]:,}" for c in OUTCOME_COLUMNS[:3])
        )
    return table
