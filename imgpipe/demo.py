"""`imgpipe demo`: a sample set, `imgpipe local` on it, the HTML report, and the exact commands to run next
(with how to reach `imgpipe` from this shell, which `make demo` does not put on the PATH)."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console

from .commands import report
from .commands.common import status_console
from .errors import CommandError
from .target import DEFAULT_STATE_DIR, open_target


def run_demo(args: argparse.Namespace, console: Console) -> int:
    from .cli import local_options
    from .local.runner import run_local
    from .samples import write_samples

    folder: Path = args.state_dir / "samples"
    if not folder.exists():
        samples = write_samples(folder)
        console.print(
            f"Wrote {len(samples)} sample files to {folder}/ (synthetic pictures with real EXIF tags)."
        )
    code = run_local(local_options(args, [folder]), console)
    written, label = _report(args.state_dir)
    console.print()
    console.print(
        f"Report: {written.html.resolve()} (open it in a browser; a summary is in {written.markdown})"
    )
    console.print(next_steps(args, label), highlight=False, markup=False, soft_wrap=True)
    return code


def _report(state_dir: Path) -> tuple[report.Written, str | None]:
    """The demo's report in STATE_DIR/report/, and the most common label (None: no labels)."""
    from .local.runner import final_records

    where = argparse.Namespace(stack=None, region=None, profile=None, state_dir=state_dir)
    status = status_console()
    with open_target(where, status) as target:
        labels = Counter(
            label for r in final_records(target, target.settings).values() for label in r["labels"]
        )
        try:
            written = report.write(target, state_dir / "report", status, title="imgpipe demo")
        except CommandError as exc:
            raise CommandError(f"The demo ran, but its report could not be written: {exc}") from exc
    return written, labels.most_common(1)[0][0] if labels else None


def imgpipe_command() -> tuple[str, str | None]:
    """How to call imgpipe from this shell: (command, None) when `imgpipe` on the PATH is this one,
    else the path of this virtualenv's script and the line that activates the virtualenv."""
    bin_dir = Path(sys.prefix) / "bin"
    script = bin_dir / "imgpipe"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m imgpipe.cli", None
    found = shutil.which("imgpipe")
    if found and Path(found).resolve() == script.resolve():
        return "imgpipe", None
    return shlex.quote(_shown(script)), f"source {shlex.quote(_shown(bin_dir / 'activate'))}"


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it (as `.venv/bin/imgpipe`)."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def next_steps(args: argparse.Namespace, label: str | None) -> str:
    """What to run next, one `$ ` command a line, each runnable as printed from the current folder."""
    imgpipe, activate = imgpipe_command()
    state = [] if args.state_dir == DEFAULT_STATE_DIR else ["--state-dir", str(args.state_dir)]

    def command(*words: str) -> str:
        return "  $ " + " ".join([imgpipe, *map(shlex.quote, [*words, *state])])

    lines = [f"Next, from {os.getcwd()}:"]
    if label:
        lines += ["  Images by label (best confidence first):", command("query", "--label", label)]
    if label and (args.simulated_ai or args.aws_ai):  # the images were embedded: search by meaning
        model = "--simulated-ai" if args.simulated_ai else "--aws-ai"
        search = command("search", label.lower(), model, "--top", "5")
        lines += ["  Images by meaning, nearest first:", search]
    lines += ["  The same photo more than once (re-encoded, resized or rotated):", command("duplicates")]
    lines += [
        "  Images that could not be analysed, and why:",
        command("query", "--status", "failed"),
        "  Counts, queue depths and the estimated cost:",
        command("stats"),
    ]
    if not args.simulated_ai and not args.aws_ai:
        lines += [
            "  See labels, text and boxes without an AWS account (simulated answers, marked SIMULATED):",
            command("demo", "--simulated-ai"),
        ]
    lines.append(
        "  Your own photos: `imgpipe local PATH` (add --simulated-ai or --aws-ai); "
        "every command: `imgpipe --help`."
    )
    if activate:
        lines += [
            f"`imgpipe` is not on your PATH: the commands above call {imgpipe}; or run `{activate}` "
            "first and type `imgpipe`.",
        ]
    return "\n".join(lines)
