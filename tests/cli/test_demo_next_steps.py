"""Issue 13, item 1: after the demo, the commands it prints run as printed (from the folder it names,
with `imgpipe` reached the way it says), and the HTML report it names exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers import imgpipe, new_state_dir
from tests.support import CLI_TIMEOUT_S, describe

VENV_BIN = str(Path(sys.prefix) / "bin")


def newcomers_shell(home: Path) -> dict[str, str]:
    """A newcomer's shell after `make demo`: the virtualenv is not activated, and there is no AWS
    configuration at all (no AWS_* variable, an empty home: no ~/.aws)."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != VENV_BIN)
    home.mkdir(exist_ok=True)
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "PATH": path,
        "HOME": str(home),
    }


def printed_commands(stdout: str) -> tuple[Path, list[str]]:
    folder = re.search(r"^Next, from (.+):$", stdout, re.MULTILINE)
    assert folder is not None, stdout
    return Path(folder.group(1)), re.findall(r"^  \$ (.+)$", stdout, re.MULTILINE)


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # the command the demo printed: what is under test
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
    )


def report_path(stdout: str) -> Path:
    found = re.search(r"^Report: (\S+\.html) ", stdout, re.MULTILINE)
    assert found is not None, stdout
    return Path(found.group(1))


def test_the_commands_the_demo_prints_run_as_printed(tmp_path: Path, synthesized: Path) -> None:
    state = new_state_dir(synthesized, tmp_path / "state")
    env = newcomers_shell(tmp_path / "home")
    demo = imgpipe("demo", "--state-dir", state, "--workers", "2", env=env)
    assert demo.returncode == 0, describe(demo)
    page = report_path(demo.stdout)
    assert page.is_file() and page.read_text().startswith("<!DOCTYPE html>")
    assert "`imgpipe` is not on your PATH" in demo.stdout and "source .venv/bin/activate" in demo.stdout
    cwd, commands = printed_commands(demo.stdout)
    # no labels without AI, so no label query and no search
    assert [c.split()[1] for c in commands] == ["duplicates", "query", "stats", "demo"]
    assert all(c.startswith(".venv/bin/imgpipe ") for c in commands)
    outputs = {}
    for command in commands:
        done = shell(command, cwd, env)
        assert done.returncode == 0, (command, describe(done))
        outputs[command.split()[1]] = done.stdout
    assert "broken/corrupt.jpg" in outputs["query"] and "images" in outputs["stats"]
    # The simulated demo it suggested now has labels: its own next steps start with a label query.
    _, after_simulated = printed_commands(outputs["demo"])
    assert "SIMULATED" in outputs["demo"] and "query --label" in after_simulated[0]
    assert "search" in after_simulated[1] and "--simulated-ai" in after_simulated[1]  # embedded: searchable
    for command in after_simulated[:-1]:  # all but `demo --simulated-ai` again
        done = shell(command, cwd, env)
        assert done.returncode == 0, (command, describe(done))
        assert "No image matches" not in done.stdout, command
    activated = shell(f"source .venv/bin/activate && imgpipe stats --state-dir {state}", cwd, env)
    assert activated.returncode == 0, describe(activated)
