"""The `imgpipe` command: run the pipeline locally and operate a deployed stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from .arguments import whole_number
from .commands import backfill, doctor, duplicates, people, purge, query, report, search, stats, sync, upload
from .commands.common import output_console, status_console
from .errors import CommandError, from_aws
from .target import DEFAULT_STATE_DIR, add_pipeline_options, parse_context

if TYPE_CHECKING:
    from .local.runner import LocalOptions

DESCRIPTION = """\
Analyse photos with Amazon Bedrock and Rekognition: where each was taken, what is in it, what text
it shows and whether it is unsafe. Try it on this machine without an AWS account (`imgpipe demo`,
`imgpipe local FOLDER`), or work with the stack `make deploy` created (--stack ImagePipeline).
"""
EPILOG = """\
Every command acts on the local emulated stack in .imgpipe/ unless given --stack NAME.
Run `imgpipe COMMAND --help` for a command's options and examples; docs/cli.md has more.

exit codes:
  0    done
  1    the command failed (nothing analysed yet for query/report, images not analysed before
       --timeout, a failed transfer, a declined confirmation)
  2    nothing to act on, or bad usage (an invalid option, no such stack or folder, no credentials)
  130  interrupted (Ctrl-C): what finished is kept; run the same command again to continue
"""

OPERATOR_COMMANDS = (upload, backfill, query, search, duplicates, report, sync, stats, people, purge, doctor)


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
    parser = argparse.ArgumentParser(
        prog="imgpipe",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"imgpipe {version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    local = commands.add_parser(
        "local",
        help="run the whole pipeline on this machine (no AWS account)",
        description="Analyse the images in FOLDERs or FILEs on this machine: the stack runs emulated "
        "(S3, SQS and DynamoDB on loopback, the real Lambda code in worker processes), built from the same "
        "CDK app `make deploy` deploys. Bedrock and Rekognition are not called unless you pass --aws-ai "
        "(real, needs AWS credentials) or --simulated-ai (imgpipe's simulated services, results marked "
        "SIMULATED). Results go to .imgpipe/results/; a rerun skips what is already analysed.",
    )
    local.add_argument(
        "paths", nargs="*", type=Path, metavar="FOLDER|FILE", help="what to analyse (optional with --serve)"
    )
    local.add_argument(
        "--serve",
        action="store_true",
        help="then keep the stack running until Ctrl-C, and print the environment that points the AWS CLI "
        "and SDKs at it (the docs' examples run verbatim)",
    )
    local.add_argument(
        "--port", type=whole_number(1024, 65535), default=0, help="the emulator's port (default: a free one)"
    )
    _local_options(local)
    local.set_defaults(run=_run_local)

    demo = commands.add_parser(
        "demo",
        help="analyse a generated sample set locally, write a report and show what to run next",
        description="Write a small sample set (synthetic pictures with real GPS tags, a HEIC, a "
        "24-megapixel JPEG, a truncated JPEG and a text file named .jpg) to .imgpipe/samples/, analyse "
        "it as `imgpipe local` does, write .imgpipe/report/report.html and print the commands to run "
        "next. Add --simulated-ai to see labels, text and boxes without an AWS account.",
    )
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
        serve=getattr(args, "serve", False),
        port=getattr(args, "port", 0),
    )


def _run_local(args: argparse.Namespace, console: Console) -> int:
    from .local.runner import run_local

    if not args.paths and not args.serve:
        raise CommandError("Name the folders or files to analyse (or pass --serve).", exit_code=2)
    return run_local(local_options(args, args.paths), console)


def _run_demo(args: argparse.Namespace, console: Console) -> int:
    from .demo import run_demo

    return run_demo(args, console)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("imgpipe")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
