"""The CPython 3.13 that compiles the asset's bytecode and runs the Lambda's unit tests (`make test`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.wheelhouse import INTERPRETER_VARIABLE, PYTHON_VERSION, ROOT, InterpreterNotFound, find_interpreter

PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", flags=re.MULTILINE)


def pins(path: Path) -> dict[str, str]:
    return {
        name.lower(): f"{name}{extras}=={version}" for name, extras, version in PIN.findall(path.read_text())
    }


def test_the_313_test_venv_pins_what_the_dev_venv_pins() -> None:
    wanted = pins(Path(__file__).with_name("requirements-py313.txt"))
    assert set(wanted) == {"boto3", "moto", "pytest"}
    dev = pins(ROOT / "requirements-dev.txt")
    assert {name: dev[name] for name in wanted} == wanted


def test_a_cpython_313_is_found_and_is_one() -> None:
    python = find_interpreter()
    probe = "import sys; print(sys.implementation.cache_tag)"
    tag = subprocess.run(
        [python, "-I", "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert tag == "cpython-" + PYTHON_VERSION.replace(".", "")


def test_an_explicit_interpreter_of_another_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERPRETER_VARIABLE, sys.executable)  # this suite's Python, not 3.13
    assert sys.version_info[:2] != (3, 13)
    with pytest.raises(InterpreterNotFound, match=f"not a CPython {PYTHON_VERSION}"):
        find_interpreter()


def test_the_makefile_gets_the_interpreter_or_a_message_that_says_what_to_do(tmp_path: Path) -> None:
    found = subprocess.run(
        [sys.executable, "-m", "infra.wheelhouse", "--interpreter"], cwd=ROOT, capture_output=True, text=True
    )
    assert found.returncode == 0 and Path(found.stdout.strip()) == find_interpreter()
    # Given a machine where it is nowhere to be found (no PATH, no pyenv, empty home)
    if any(Path(folder, f"python{PYTHON_VERSION}").exists() for folder in ("/usr/bin", "/usr/local/bin")):
        pytest.skip(f"this machine has a system python{PYTHON_VERSION}, which is always found")
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    missing = subprocess.run(
        [sys.executable, "-m", "infra.wheelhouse", "--interpreter"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and not missing.stdout
    assert f"pyenv install {PYTHON_VERSION}" in missing.stderr and INTERPRETER_VARIABLE in missing.stderr
