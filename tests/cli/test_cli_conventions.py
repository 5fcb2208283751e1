"""Issue 13, item 5, through the real commands: --version, the documented exit codes, plain output
off a terminal and with NO_COLOR, help written for users, query --csv, and tables that fit 80 columns."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from imgpipe.recordview import CSV_COLUMNS
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.cli.helpers import PHOTOS, Uploaded, cli_env, imgpipe, ok
from tests.support import PROJECT_ROOT, describe

ESCAPE = "\x1b"
COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|9[0-7]|38;[0-9;]+)m")  # a foreground colour


def in_terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run imgpipe with stdin, stdout and stderr on a pseudo-terminal; (exit code, what it showed)."""
    terminal, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "imgpipe.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    shown = b""
    while True:
        ready, _, _ = select.select([terminal], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    return process.wait(timeout=60), shown.decode(errors="replace")


def test_version() -> None:
    done = imgpipe("--version", env=dict(os.environ))
    assert done.returncode == 0 and done.stdout.strip() == f"imgpipe {version('imgpipe')}"


def test_the_documented_exit_codes(uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path) -> None:
    env, state = cli_env(double), ["--state-dir", str(uploaded.state)]
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("x")
    cases = [
        (0, ["stats", *state]),
        (0, ["query", "--label", "no-such-label", *state]),  # a query that matches nothing is an answer
        (
            1,
            ["report", "--prefix", "no/such/prefix/", "--out", str(tmp_path / "r"), *state],
        ),  # nothing to report
        (2, ["query", "--state-dir", str(tmp_path / "no-stack")]),  # no local stack yet
        (2, ["upload", str(tmp_path / "missing"), *state]),  # no such folder
        (2, ["upload", str(tmp_path / "empty"), *state]),  # nothing to upload
        (2, ["report", "--out", str(tmp_path / "a-file" / "sub"), *state]),  # --out cannot be a folder
        (2, ["query", "--limit", "0", *state]),  # bad usage
        (2, ["frobnicate"]),  # no such command
    ]
    for code, argv in cases:
        done = imgpipe(*argv, env=env)
        assert done.returncode == code, (argv, describe(done))
        assert "Traceback" not in done.stderr, (argv, done.stderr)
    # 130 (interrupted): tests/cli/test_upload_path.py::test_ctrl_c_during_a_local_run_...


def test_output_off_a_terminal_is_plain(uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path) -> None:
    run = uploaded.copy(tmp_path)
    (run.photos / "new.jpg").write_bytes((run.photos / "red-1.jpg").read_bytes()[:-2] + b"\xff\xd9")
    done = ok(imgpipe("upload", run.photos, "--aws-ai", "--state-dir", run.state, env=cli_env(double)))
    for stream in (done.stdout, done.stderr):
        assert ESCAPE not in stream and "━" not in stream, stream  # no colour, no progress bar
    assert "Uploaded 1 image(s)" in done.stdout


def test_colour_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    argv = ("query", "--state-dir", str(tmp_path / "no-stack"))
    code, shown = in_terminal(*argv, env={k: v for k, v in os.environ.items() if k != "NO_COLOR"})
    assert code == 2 and COLOUR.search(shown), repr(shown)  # the error is red on a terminal...
    code, shown = in_terminal(*argv, env={**os.environ, "NO_COLOR": "1"})
    assert code == 2 and "No local stack" in shown and not COLOUR.search(shown), repr(
        shown
    )  # ...not with NO_COLOR


INTERNALS = ("GetItem", "Scan", "Select=COUNT", "ListObjectsV2", "image_analysis.", "safe_local_path", "gsi")


@pytest.mark.parametrize(
    "command",
    [
        "",
        "local",
        "demo",
        "upload",
        "backfill",
        "query",
        "duplicates",
        "report",
        "sync",
        "stats",
        "purge",
        "doctor",
    ],
)
def test_help_is_written_for_users(command: str) -> None:
    done = imgpipe(*([command] if command else []), "--help", env=dict(os.environ))
    assert done.returncode == 0, describe(done)
    assert not [word for word in INTERNALS if word in done.stdout], done.stdout
    description = done.stdout.split("\n\n")[1]
    assert not description.startswith("`imgpipe"), description  # a module docstring, not help
    if command in ("backfill", "query", "duplicates", "report", "sync", "purge"):
        assert "example" in done.stdout


def test_query_csv_has_one_row_per_record(uploaded: Uploaded, double: AiServicesDouble) -> None:
    env, state = cli_env(double), ["--state-dir", str(uploaded.state), "--limit", "1000"]
    rows = list(csv.DictReader(io.StringIO(ok(imgpipe("query", "--csv", *state, env=env)).stdout)))
    records = json.loads(ok(imgpipe("query", "--json", *state, env=env)).stdout)
    assert [row["image_key"] for row in rows] == [r["image_key"] for r in records]
    assert len(rows) == len(PHOTOS) and set(rows[0]) == set(CSV_COLUMNS)
    for row, record in zip(rows, records, strict=True):
        assert row["labels"].split("; ") == record["labels"] and row["status"] == record["status"]
        assert row["flagged"] == ("yes" if record["flagged"] else "")
    assert imgpipe("query", "--csv", "--json", *state, env=env).returncode == 2  # one format at a time


@pytest.mark.parametrize("command", [["query"], ["stats"]])
def test_tables_fit_80_columns(uploaded: Uploaded, double: AiServicesDouble, command: list[str]) -> None:
    done = ok(imgpipe(*command, "--state-dir", uploaded.state, env=cli_env(double, COLUMNS="80")))
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, done.stdout
    if command == ["query"]:
        for relative in PHOTOS:  # every key whole on one line, never folded into pieces
            assert any(relative in line for line in lines), (relative, done.stdout)
