"""`imgpipe query`: answer analysts' questions from the results table (keys and indexes, never a Scan).

Access paths (image_analysis.domain.table): --key is a GetItem; --label reads the by-label index (best
confidence first); --flagged the sparse flagged index; --status, --since/--until the by-status index
(its sort key starts with the record's ISO time). --text has no index of its own: it Queries the
by-status partitions of the final statuses with a filter on the lower-cased text, so it reads the
index entry of every final record in the date range (use --since/--until to narrow it) - still no Scan.
--pii reads the sparse pii index (images whose text shows personal information); --person asks the
people collection for the faces like those named so (SearchFaces) and reads their images' records;
--faces N (at least N faces) and --language filter what the by-status partitions return, like --text.
--conflict reads the sparse location-conflict index (the photo's GPS and the model disagree on the place).
Criteria combine: the most selective path is queried and the other criteria filter what it returns.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from image_analysis.domain import table as t
from image_analysis.domain.models import not_analysed
from image_analysis.domain.states import ALL_STATUSES, FINAL_STATUSES, ImageStatus
from rich.console import Console

from .. import recordview as view
from ..arguments import whole_number
from ..errors import CommandError
from ..results import TimeRange, clean, get_record, get_records, has_label, has_records, query_index
from ..target import Target, add_target_options, open_target
from .common import print_json, shown_key, status_console
from .people import people_faces

DEFAULT_LIMIT = 50
HINT_SAMPLE = 500  # records per status read to tell "found nothing" from "never looked"


@dataclass(frozen=True)
class Criteria:
    key: str | None = None
    label: str | None = None
    text: str | None = None
    flagged: bool = False
    status: str | None = None
    times: TimeRange = field(default_factory=TimeRange)
    faces: int | None = None  # at least this many faces
    pii: bool = False
    language: str | None = None
    person: str | None = None
    conflict: bool = False  # the GPS place and the model's country or city disagree

    def accepts(self, record: dict[str, Any]) -> bool:
        """Everything but the label and the person (the label and face items hold them; see `search`)."""
        return (
            (not self.flagged or bool(record.get("flagged")))
            and (not self.pii or bool(record.get("has_pii")))
            and (not self.conflict or bool(record.get("location_conflict")))
            and (self.faces is None or (record.get("face_count") or 0) >= self.faces)
            and (self.language is None or record.get("language") == self.language)
            and (self.status is None or record.get("status") == self.status)
            and (self.text is None or self.text.lower() in (record.get("text_lc") or ""))
            and self.times.contains(record.get("updated_at"))
        )


HELP = """\
Find analysed images. Criteria combine: `--label dog --flagged --since 2026-11-01` finds flagged dog
pictures analysed since November. Without criteria, the newest images of every status.

examples:
  imgpipe query --label dog                  labelled dog (or a kind of it), most confident first
  imgpipe query --text "gate 12"             whose detected text contains "gate 12"
  imgpipe query --status failed              that could not be analysed, with the reason
  imgpipe query --key trip/a.jpg --json      one image's whole record, for scripts
  imgpipe query --flagged --csv > flagged.csv

--text looks inside every image analysed in the date range: on a large table narrow it with
--since/--until. A query that finds nothing says so when the analysis it needs never ran.
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "query",
        help="find analysed images by key, label, text, flag, status or date",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--key", help="one image, by key (relative to the input prefix, or in full)")
    parser.add_argument("--label", help="images with this label (or a parent of it), best confidence first")
    parser.add_argument("--text", help="images whose detected text contains this (case-insensitive)")
    parser.add_argument("--flagged", action="store_true", help="images moderation flagged")
    parser.add_argument("--status", choices=[s.value for s in ALL_STATUSES], help="images with this status")
    parser.add_argument("--faces", type=whole_number(0), metavar="N", help="images with at least N faces")
    parser.add_argument("--person", help="images of a person named with `imgpipe people name`")
    parser.add_argument("--pii", action="store_true", help="images whose text shows personal information")
    parser.add_argument("--language", help="images whose text is in this language (e.g. en, fr)")
    parser.add_argument(
        "--conflict", action="store_true", help="images whose GPS place and the model's place disagree"
    )
    parser.add_argument("--since", type=iso_bound, help="analysed at or after (ISO date or time, UTC)")
    parser.add_argument(
        "--until", type=iso_bound, help="analysed at or before (inclusive: a date is all of it)"
    )
    parser.add_argument(
        "--limit", type=whole_number(1), default=DEFAULT_LIMIT, help=f"most results (default {DEFAULT_LIMIT})"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the records as JSON (for scripts)")
    output.add_argument(
        "--csv", action="store_true", help="print the records as CSV, one row per image (for spreadsheets)"
    )
    add_target_options(parser)
    parser.set_defaults(run=run)


def iso_bound(text: str) -> str:
    """An ISO date or date-time as the UTC prefix the index sort keys are compared with."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (2026-05-01) or time") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def run(args: argparse.Namespace, console: Console) -> int:
    criteria = Criteria(
        key=args.key,
        label=args.label,
        text=args.text,
        flagged=args.flagged,
        status=args.status,
        times=TimeRange(args.since, args.until),
        faces=args.faces,
        pii=args.pii,
        language=args.language,
        person=args.person,
        conflict=args.conflict,
    )
    status = status_console()
    with open_target(args, status) as target:
        records = list(islice(search(target, criteria), args.limit))
        if not records and not has_records(target):
            raise CommandError(
                f"The results table of the {target.name} is empty: nothing has been analysed yet "
                "(`imgpipe upload DIR`, or `imgpipe backfill` for images already in the bucket)."
            )
        hint = None if records else not_analysed_hint(target, criteria)
    if args.json:
        print_json([clean(r) for r in records])
    elif args.csv:
        write_csv(records, target)
    elif records:
        console.print(view.records_table(records, lambda key: shown_key(target, key), console.width))
    else:
        console.print("No image matches.")
    if hint:
        status.print(f"[yellow]{hint}", highlight=False)
    return 0


def not_analysed_hint(target: Target, c: Criteria) -> str | None:
    """When nothing matched a label, text or flag: whether that analysis ran at all on recent images
    (a query cannot find what was never looked for), from the newest analysed records."""
    wanted = [
        name for name, asked in (("labels", c.label), ("text", c.text), ("moderation", c.flagged)) if asked
    ]
    if not wanted:
        return None
    recent = [
        record
        for status in (ImageStatus.COMPLETE, ImageStatus.PARTIAL)
        for record in islice(
            query_index(target, t.BY_STATUS, t.status_pk(status), attributes=("status", "outcomes")),
            HINT_SAMPLE,
        )
    ]
    notes = []
    for name in wanted:
        reasons = Counter(
            why for r in recent if (why := not_analysed(view.outcome(r, name))) and "outcomes" in r
        )
        if reasons:
            listed = ", ".join(f"{n} {why}" for why, n in reasons.most_common())
            count = sum(reasons.values())
            notes.append(f"{name} were not analysed for {count} of {len(recent)} recent image(s) ({listed})")
    if not notes:
        return None
    return "Note: " + "; ".join(notes) + ". Nothing can match what was never analysed."


def write_csv(records: list[dict[str, Any]], target: Target) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=view.CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(view.csv_row(record, lambda key: shown_key(target, key)))


def search(target: Target, c: Criteria) -> Iterator[dict[str, Any]]:
    """Matching records, best first: by confidence for a label, else newest first."""
    if c.key is not None:
        key = c.key if c.key.startswith(target.layout.input_prefix) else target.layout.input_prefix + c.key
        record = get_record(target, key)
        if record and c.accepts(record) and (c.label is None or has_label(target, key, c.label)):
            yield record
    elif c.person is not None:
        keys = sorted({face["image_key"] for face in people_faces(target, c.person).values()})
        found = get_records(target, keys)
        records = [
            r
            for r in found.values()
            if c.accepts(r) and (c.label is None or has_label(target, r["image_key"], c.label))
        ]
        yield from sorted(records, key=lambda r: r.get("updated_at") or "", reverse=True)
    elif c.label is not None:
        for chunk in _chunks(query_index(target, t.BY_LABEL, t.label_pk(c.label)), 100):
            found = get_records(target, [item["image_key"] for item in chunk])
            for item in chunk:  # keep the index's order (best confidence first)
                record = found.get(item["image_key"])
                if record and c.accepts(record):
                    yield record
    elif c.flagged:
        yield from filter(c.accepts, query_index(target, t.FLAGGED, t.FLAGGED_PK, times=c.times))
    elif c.pii:
        yield from filter(c.accepts, query_index(target, t.PII, t.PII_PK, times=c.times))
    elif c.conflict:
        conflicts = query_index(target, t.LOCATION_CONFLICT, t.LOCATION_CONFLICT_PK, times=c.times)
        yield from filter(c.accepts, conflicts)
    else:
        if c.status:
            statuses: tuple[str, ...] = (c.status,)
        else:
            statuses = FINAL_STATUSES if c.text else ALL_STATUSES
        streams = [
            filter(c.accepts, query_index(target, t.BY_STATUS, t.status_pk(s), times=c.times, text=c.text))
            for s in statuses
        ]
        # Each partition comes newest first; merging them lazily keeps --limit cheap.
        yield from heapq.merge(*streams, key=lambda r: r.get("updated_at") or "", reverse=True)


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
