"""`imgpipe duplicates`: groups of the same photo stored more than once.

Two kinds, reported apart: identical bytes (same sha256), and near-duplicates, the same picture
re-encoded, resized, converted or turned by a quarter turn (perceptual hashes within --max-distance
under any turn; image_analysis.domain.likeness). Records are read page by page from the by-status
index of the final statuses (never a Scan), only the attributes grouping needs.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from image_analysis.domain import likeness
from image_analysis.domain import table as t
from image_analysis.domain.states import FINAL_STATUSES
from rich.console import Console
from rich.table import Table

from ..arguments import whole_number
from ..errors import CommandError
from ..results import has_records, query_index
from ..target import Target, add_target_options, open_target
from .common import print_json, shown_key, status_console

ATTRIBUTES = ("image_key", "status", "sha256", "phash", "width", "height", "size_bytes")

HELP = f"""\
List photos stored more than once: identical files (the same bytes under several keys), and
near-duplicates: the same picture re-encoded, resized, converted to another format or rotated.
Burst shots of one scene (the camera moved between them) are not near-duplicates.

examples:
  imgpipe duplicates                      both kinds, as tables
  imgpipe duplicates --max-distance 10    stricter: fewer, surer near-duplicates
  imgpipe duplicates --json               for scripts

Near-duplicates are compared by a perceptual hash of each analysed picture ({likeness.BITS - 1}
bits; the distance is how many differ, under the best quarter turn). Measured: copies 0-13, burst
shots with the camera moved 2 % or more 26 and over, a shot whose only change is a small subject
moving 4 and over (docs/cli.md). Images analysed before the hash existed have none: reanalyse them
with `imgpipe backfill --force` to include them.
"""


@dataclass(frozen=True)
class Member:
    key: str  # as operators name it (relative to the input prefix)
    width: int | None
    height: int | None
    size_bytes: int | None
    sha256: str | None
    distance: int  # from the group's first member (0 for it); bytes groups: 0


@dataclass(frozen=True)
class Group:
    kind: str  # "identical bytes" | "near-duplicate"
    members: list[Member]


@dataclass(frozen=True)
class Findings:
    identical: list[Group]
    near: list[Group]
    images: int  # final records read
    without_hash: int  # analysed records with no perceptual hash (analysed before it existed)
    max_distance: int


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "duplicates",
        help="photos stored more than once: identical files and re-encoded, resized or rotated copies",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--max-distance",
        type=whole_number(0, likeness.BITS // 4),
        default=likeness.DEFAULT_MAX_DISTANCE,
        metavar="N",
        help=f"largest hash distance still called the same picture (default {likeness.DEFAULT_MAX_DISTANCE})",
    )
    parser.add_argument("--json", action="store_true", help="print the groups as JSON (for scripts)")
    add_target_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    status = status_console()
    with open_target(args, status) as target:
        records = read_records(target)
        if not records and not has_records(target):
            raise CommandError(
                f"The results table of the {target.name} is empty: nothing has been analysed yet "
                "(`imgpipe upload DIR`, or `imgpipe backfill` for images already in the bucket)."
            )
        findings = find(records, args.max_distance, lambda key: shown_key(target, key))
    if args.json:
        print_json(asdict(findings))
    else:
        render(findings, console)
    if findings.without_hash:
        status.print(
            f"[yellow]{findings.without_hash} analysed image(s) have no perceptual hash (analysed before it "
            "existed) and were compared by bytes only; `imgpipe backfill --force` reanalyses them.",
            highlight=False,
        )
    return 0


def read_records(target: Target) -> list[dict[str, Any]]:
    """Every final record's grouping attributes, page by page from the by-status index."""
    return [
        record
        for status in FINAL_STATUSES
        for record in query_index(target, t.BY_STATUS, t.status_pk(status), attributes=ATTRIBUTES)
    ]


def find(records: list[dict[str, Any]], max_distance: int, shown: Any = str) -> Findings:
    """Identical-bytes groups and near-duplicate groups of the records (keys shown with `shown`)."""
    records = sorted(records, key=lambda r: r["image_key"])
    by_bytes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("sha256"):
            by_bytes[record["sha256"]].append(record)
    identical = [
        Group("identical bytes", [_member(r, 0, shown) for r in same])
        for same in by_bytes.values()
        if len(same) > 1
    ]
    hashed = [r for r in records if _valid(r.get("phash"))]
    hashes = [likeness.parse(r["phash"]) for r in hashed]
    near = []
    for indexes in likeness.group(hashes, max_distance):
        first = hashes[indexes[0]]
        members = [hashed[i] for i in indexes]
        if len({m.get("sha256") for m in members}) < 2:
            continue  # the same bytes throughout: already an identical-bytes group
        near.append(
            Group(
                "near-duplicate",
                [
                    _member(r, likeness.turned_distance(first, hashes[i]), shown)
                    for r, i in zip(members, indexes, strict=True)
                ],
            )
        )
    analysed = [r for r in records if r.get("status") != "failed"]
    return Findings(
        identical=identical,
        near=near,
        images=len(records),
        without_hash=sum(1 for r in analysed if not r.get("phash")),
        max_distance=max_distance,
    )


def _valid(text: Any) -> bool:
    try:
        likeness.parse(text)
    except (TypeError, ValueError):
        return False
    return True


def _member(record: dict[str, Any], distance: int, shown: Any) -> Member:
    return Member(
        key=shown(record["image_key"]),
        width=_int(record.get("width")),
        height=_int(record.get("height")),
        size_bytes=_int(record.get("size_bytes")),
        sha256=record.get("sha256"),
        distance=distance,
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def render(findings: Findings, console: Console) -> None:
    if not findings.identical and not findings.near:
        console.print(f"No duplicates among {findings.images:,} image(s).")
        return
    for number, group in enumerate([*findings.identical, *findings.near], start=1):
        console.print(_table(number, group))
    console.print(
        f"{len(findings.identical)} identical-bytes and {len(findings.near)} near-duplicate group(s) "
        f"in {findings.images:,} image(s) (distance <= {findings.max_distance})."
    )


def _table(number: int, group: Group) -> Table:
    table = Table(title=f"{number}. {group.kind} ({len(group.members)} images)", title_justify="left")
    table.add_column("image", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    if group.kind == "near-duplicate":
        table.add_column("distance", justify="right", no_wrap=True)
    first = group.members[0]
    for member in group.members:
        size = f"{member.width}×{member.height}" if member.width and member.height else "?"
        row = [member.key, size, f"{member.size_bytes:,}" if member.size_bytes is not None else "?"]
        if group.kind == "near-duplicate":
            same = member is not first and member.sha256 == first.sha256
            row.append("same bytes" if same else ("—" if member is first else str(member.distance)))
        table.add_row(*row)
    return table
