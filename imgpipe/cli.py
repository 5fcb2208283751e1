"""The `imgpipe` command: run the pipeline locally and operate a deployed stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from .commands import backfill, purge, query, report, stats, sync, upload
from .commands.common import output_console, status_console
from .errors import CommandError, from_aws
from .target import DEFAULT_STATE_DIR, add_pipeline_options, parse_context

if TYPE_CHECKING:
    from .local.runner import LocalOptions

OPERATOR_COMMANDS = (upload, backfill, query, report, sync, stats, purge)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = output_console()
    errors = status_console()
    try:
        return int(args.run(args, console))
    except CommandError as exc:
        errors.print(f"[red]{exc}", highlight=False)
        return exc.exit_code
    except (ClientError, BotoCoreError) as exc:
        error = from_aws(exc)
        errors.print(f"[red]{error}", highlight=False)
        return error.exit_code
    except KeyboardInterrupt as exc:
        errors.print(
            f"[yellow]{exc}"
            if str(exc)
            else "[yellow]Interrupted: what finished is kept; run the same command again to continue.",
            highlight=False,
        )
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgpipe", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    local = commands.add_parser("local", help="run the whole pipeline on this machine (no AWS account)")
    local.add_argument("paths", nargs="+", type=Path, help="folders or files to analyse")
    _local_options(local)
    local.set_defaults(run=_run_local)

    demo = commands.add_parser("demo", help="generate a sample set and run `imgpipe local` on it")
    _local_options(demo)
    demo.set_defaults(run=_run_demo)

    for command in OPERATOR_COMMANDS:
        command.register(commands)
    return parser


def _local_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the local run keeps its state and results (default: .imgpipe)",
    )
    parser.add_argument("--reset", action="store_true", help="forget earlier runs and start from nothing")
    add_pipeline_options(parser)


def local_options(args: argparse.Namespace, paths: list[Path]) -> LocalOptions:
    from .local.runner import LocalOptions  # the local mode is imported only when it is used

    return LocalOptions(
        paths=paths,
        state_dir=args.state_dir,
        workers=args.workers,
        use_aws_ai=args.aws_ai,
        simulated_ai=args.simulated_ai,
        reset=args.reset,
        retry_delay=args.retry_delay,
        timeout_s=args.timeout,
        context=parse_context(args.context),
    )


def _run_local(args: argparse.Namespace, console: Console) -> int:
    from .local.runner import run_local

    return run_local(local_options(args, args.paths), console)


def _run_demo(args: argparse.Namespace, console: Console) -> int:
    from .demo import run_demo

    return run_demo(args, console)


if __name__ == "__main__":
    sys.exit(main())
