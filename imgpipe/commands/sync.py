"""`imgpipe sync DIR`: write each uploaded image's results next to it, as the original local script did.

`DIR/trip/a.jpg` (uploaded as `<input prefix>trip/a.jpg`) gets `DIR/trip/a.jpg.txt` (and, with --json,
`a.jpg.json`) from `<output prefix>trip/a.jpg.txt`: the full file name is kept, so `a.jpg` and `a.png`
never overwrite each other. Destinations come from the result keys through `safe_local_path`: a key
that would leave DIR (`../`, absolute, backslashes) is refused, never written.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..arguments import key_prefix as key_prefix_arg
from ..arguments import whole_number
from ..errors import CommandError
from ..files import image_key, scan_folder, sha256_of
from ..objects import list_keys
from ..paths import safe_local_path
from ..results import get_records, has_records
from ..target import MAX_JOBS, Target, add_target_options, open_target
from .common import status_console


@dataclass(frozen=True)
class Write:
    key: str  # the result object
    image: str  # the image's path relative to the folder
    destination: Path


@dataclass
class SyncPlan:
    writes: list[Write] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # result keys that would leave the folder


HELP = """\
Write each uploaded image's readable result next to it: FOLDER/trip/a.jpg gets FOLDER/trip/a.jpg.txt
(and a.jpg.json with --json). Use the --prefix the folder was uploaded with. Files already up to
date are left alone; images without a result yet, or changed since they were analysed, are listed
instead. Nothing is ever written outside FOLDER.

example:
  imgpipe upload photos/ && imgpipe sync photos/
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "sync",
        help="write each uploaded image's .txt (and .json) result next to it",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, help="the folder the images were uploaded from")
    parser.add_argument(
        "--prefix",
        type=key_prefix_arg,
        default="",
        help="the key prefix the folder was uploaded with, if any",
    )
    parser.add_argument("--json", action="store_true", help="write the .json result document too")
    parser.add_argument(
        "--jobs", type=whole_number(1, MAX_JOBS), default=8, help="downloads in parallel (default: 8)"
    )
    add_target_options(parser)
    parser.set_defaults(run=run)


def plan(result_keys: Iterable[str], base: str, folder: Path, suffixes: tuple[str, ...]) -> SyncPlan:
    """Which result objects under `base` (output prefix + key prefix) belong to files in `folder`,
    and where each is written. Nothing here touches S3; only existing images get results."""
    found = SyncPlan()
    for key in result_keys:
        if not key.startswith(base):
            continue
        relative = key[len(base) :]
        suffix = next((s for s in suffixes if relative.endswith(s)), None)
        if suffix is None:
            continue
        destination = safe_local_path(folder, relative)
        image = safe_local_path(folder, relative[: -len(suffix)])
        if destination is None or image is None or destination.relative_to(folder).as_posix() != relative:
            found.refused.append(key)  # would leave the folder, or is another key's file ("a/./b")
        elif image.is_file():
            found.writes.append(Write(key, relative[: -len(suffix)], destination))
    return found


def run(args: argparse.Namespace, console: Console) -> int:
    status = status_console()
    folder: Path = args.folder
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder", exit_code=2)
    prefix: str = args.prefix
    suffixes = (".txt", ".json") if args.json else (".txt",)
    images = scan_folder(folder).images
    with open_target(args, status) as target:
        base = target.layout.output_prefix + prefix
        chosen = plan(list_keys(target.s3, target.bucket, base), base, folder, suffixes)
        if not chosen.writes and not has_records(target):
            raise CommandError(f"The results table of the {target.name} is empty: nothing to sync.")
        records = get_records(
            target, {image_key(target.layout, prefix, i) for i in images}, attributes=("sha256",)
        )
        local_sha = {i.relative: sha256_of(i.path) for i in images}
        changed = {
            i.relative
            for i in images
            if (sha := records.get(image_key(target.layout, prefix, i), {}).get("sha256"))
            and sha != local_sha[i.relative]
        }
        writes = [w for w in chosen.writes if w.image not in changed]
        written = download(target, writes, max(1, args.jobs), status)
    have = {w.image for w in chosen.writes}
    missing = sorted(i.relative for i in images if i.relative not in have)
    console.print(
        f"Wrote {written} result file(s) next to their images in {folder}/ "
        f"({len(writes) - written} already up to date)."
    )
    if changed:
        console.print(
            f"[yellow]{len(changed)} image(s) changed since they were analysed (upload them again): "
            + ", ".join(sorted(changed)[:5])
        )
    if missing:
        console.print(
            f"{len(missing)} image(s) have no result yet (not uploaded, or still being analysed): "
            + ", ".join(missing[:5])
            + (" …" if len(missing) > 5 else "")
        )
    for key in chosen.refused:
        status.print(f"[red]Refused {key!r}: it would be written outside {folder}/", highlight=False)
    return 0


def download(target: Target, writes: list[Write], jobs: int, status: Console) -> int:
    """Fetch and write each result; returns how many files changed (identical ones are left alone)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with (
        Progress(*columns, console=status, transient=True, disable=not status.is_terminal) as progress,
        ThreadPoolExecutor(jobs) as pool,
    ):
        task = progress.add_task("Downloading results", total=len(writes))

        def one(write: Write) -> bool:
            body: bytes = target.s3.get_object(Bucket=target.bucket, Key=write.key)["Body"].read()
            progress.advance(task)
            if write.destination.is_file() and write.destination.read_bytes() == body:
                return False
            _write_atomically(write.destination, body)
            return True

        return sum(pool.map(one, writes))


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace path (never following a symlink at it) with a complete file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 is for the temporary name only
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
