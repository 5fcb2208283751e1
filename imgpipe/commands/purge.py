"""`imgpipe purge KEY... | --prefix P`: delete images, so the pipeline removes their results and records.

Only images are deleted, never results directly: each deletion is an S3 ObjectRemoved event that the
pipeline's own removal handles (results, record and label items go; a key uploaded again meanwhile
keeps its new results). The bucket is versioned: a purged image stays recoverable as a noncurrent
version for 30 days. Asks for confirmation on a terminal; scripts pass --yes.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from ..arguments import key_prefix as key_prefix_arg
from ..errors import CommandError
from ..objects import list_keys
from ..results import get_records
from ..target import Target, add_target_options, open_target
from .common import shown_key, status_console

DELETE_BATCH = 1000  # DeleteObjects' most keys per request

HELP = """\
Delete images from the bucket; the pipeline then removes their results (.json, .txt) and records, so
nothing is left behind. Only images are deleted, never results on their own. A deleted image stays
recoverable as an older version of the object for 30 days.

It shows how many images it will delete and asks first; scripts pass --yes.

examples:
  imgpipe purge trip/a.jpg trip/b.jpg
  imgpipe purge --prefix trip-2026/ --yes --stack ImagePipeline --wait
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "purge",
        help="delete images by key or prefix; the pipeline removes their results and records",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "keys", nargs="*", metavar="KEY", help="images to delete (relative to the input prefix)"
    )
    parser.add_argument(
        "--prefix", type=key_prefix_arg, help="delete every image under this prefix, e.g. trip-2026/"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (for scripts)")
    parser.add_argument(
        "--wait", action="store_true", help="deployed stack: wait until the results and records are gone"
    )
    add_target_options(parser, pipeline=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    if bool(args.keys) == bool(args.prefix):
        raise CommandError("Name the images to purge: image keys, or --prefix P (not both).", exit_code=2)
    if not args.yes and not sys.stdin.isatty():
        raise CommandError(
            "purge asks for confirmation, and there is no terminal to ask: pass --yes.", exit_code=2
        )
    status = status_console()
    with open_target(args, status, saves=True) as target, target.processing():
        keys = _existing(target, args)
        if not keys:
            where = args.prefix or ", ".join(args.keys)
            raise CommandError(
                f"No images match {where} in the {target.name}; nothing to purge.", exit_code=2
            )
        if not args.yes and not _confirmed(keys, target, status):
            console.print("Nothing was deleted.")
            return 1
        failed = _delete(target, keys)
        gone = [k for k in keys if k not in failed]
        left = _wait_removed(target, gone, args.timeout, status) if target.local or args.wait else None
    console.print(f"Deleted {len(gone)} image(s) from s3://{target.bucket}/{target.layout.input_prefix}.")
    for key, why in failed.items():
        console.print(f"[red]Could not delete {shown_key(target, key)}: {why}", highlight=False)
    if left is None:
        console.print("The stack's Lambda removes their results and records now (--wait waits for it).")
    elif left:
        console.print(
            f"[red]{len(left)} image(s) still have results or a record (e.g. {shown_key(target, left[0])})."
        )
    else:
        console.print("Their results and records are gone.")
    return 0 if not failed and not left else 1


def _existing(target: Target, args: argparse.Namespace) -> list[str]:
    prefix = target.layout.input_prefix
    if args.prefix:
        return list(list_keys(target.s3, target.bucket, prefix + args.prefix))
    keys = [k if k.startswith(prefix) else prefix + k for k in args.keys]
    return [k for k in dict.fromkeys(keys) if _exists(target, k)]


def _exists(target: Target, key: str) -> bool:
    try:
        target.s3.head_object(Bucket=target.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _confirmed(keys: list[str], target: Target, status: Console) -> bool:
    examples = ", ".join(shown_key(target, k) for k in keys[:3]) + (", …" if len(keys) > 3 else "")
    status.print(
        f"This deletes {len(keys)} image(s) ({examples}) from the {target.name}; the pipeline then removes "
        "their results and records.",
        highlight=False,
    )
    answer = status.input(f"Delete {len(keys)} image(s)? Type 'yes' to confirm: ")
    return answer.strip().lower() == "yes"


def _delete(target: Target, keys: list[str]) -> dict[str, str]:
    """DeleteObjects in batches; returns key -> why for the keys S3 did not delete."""
    failed: dict[str, str] = {}
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        response = target.s3.delete_objects(
            Bucket=target.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
        )
        failed |= {e["Key"]: f"{e.get('Code')}: {e.get('Message')}" for e in response.get("Errors", [])}
    return failed


def _wait_removed(target: Target, keys: list[str], timeout_s: float, status: Console) -> list[str]:
    """Wait until no key has a record (the removal deletes results first); returns those left."""
    deadline = time.monotonic() + timeout_s
    with status.status("Removing results and records…"):
        while True:
            left = sorted(get_records(target, keys, attributes=("status",)))
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)
