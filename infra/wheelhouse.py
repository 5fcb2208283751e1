"""The Lambda's dependencies as wheels for its platform, downloaded once so synth works offline.

`make install` runs `python -m infra.wheelhouse`, a `pip download` of the Lambda's pinned
requirements for linux/arm64 into WHEELHOUSE; bundling (infra/bundling.py) then installs from that
directory only (`--no-index`). Both use INSTALL_ARGS, so the two can never target different
platforms or resolve dependencies differently. No aws_cdk import here: the Makefile runs this
before anything else is needed.

`python -m infra.wheelhouse --interpreter` prints the path of a CPython of the Lambda's version
(PYTHON_VERSION) on this machine, or says how to get one and exits 1: bundling compiles the asset's
bytecode with it, and `make test` runs the Lambda's unit tests on it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
LAMBDA_SOURCE: Final = ROOT / "lambdas" / "image_analysis"
REQUIREMENTS: Final = LAMBDA_SOURCE / "requirements.txt"
WHEELHOUSE: Final = ROOT / ".cache" / "lambda-wheelhouse"

# The function runs Python 3.13 on arm64 (Graviton), on Amazon Linux 2023 (glibc 2.34). Pillow 13
# ships only manylinux_2_28 wheels; others (tzfpy's abi3 wheel) only manylinux_2_17 (manylinux2014).
# pip does not widen --platform to older manylinux tags by itself, so both are listed.
PYTHON_VERSION: Final = "3.13"
PLATFORM_TAG: Final = "manylinux_2_28_aarch64"
COMPATIBLE_PLATFORM_TAGS: Final = (PLATFORM_TAG, "manylinux_2_17_aarch64")
PLATFORM_ARGS: Final = (
    *(arg for tag in COMPATIBLE_PLATFORM_TAGS for arg in ("--platform", tag)),
    "--only-binary=:all:",
    "--python-version",
    PYTHON_VERSION,
    "--implementation",
    "cp",
)
# The requirements file is the complete pinned set (boto3/botocore come from the Lambda runtime), so
# nothing is resolved: --no-deps keeps a dependency's dependencies (e.g. reverse-geocode's scipy) out.
INSTALL_ARGS: Final = ("--no-deps", *PLATFORM_ARGS)


# An explicit interpreter for PYTHON_VERSION, when it is not found where find_interpreter() looks.
INTERPRETER_VARIABLE: Final = "IMGPIPE_PYTHON313"


class InterpreterNotFound(RuntimeError):
    """No CPython of the Lambda's version on this machine; the message says how to get one."""


def find_interpreter() -> Path:
    """A CPython PYTHON_VERSION executable: $IMGPIPE_PYTHON313, else `python3.13` on PATH, else pyenv's.

    Every candidate is run and must report CPython PYTHON_VERSION: a pyenv shim is on PATH even when
    that version is not selected, and then it only prints an error.
    """
    explicit = os.environ.get(INTERPRETER_VARIABLE)
    if explicit:
        if _is_lambda_python(explicit):
            return Path(explicit)
        raise InterpreterNotFound(f"{INTERPRETER_VARIABLE}={explicit} is not a CPython {PYTHON_VERSION}")
    name = f"python{PYTHON_VERSION}"
    candidates = [shutil.which(name)]
    pyenv = shutil.which("pyenv")
    if pyenv:
        prefix = subprocess.run(  # noqa: S603 - pyenv from PATH, fixed arguments
            [pyenv, "prefix", PYTHON_VERSION], capture_output=True, text=True, check=False
        )
        if prefix.returncode == 0:
            candidates += [
                str(Path(line) / "bin" / name) for line in prefix.stdout.split(":") if line.strip()
            ]
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        candidates += sorted(glob.glob(f"{root}/versions/{PYTHON_VERSION}.*/bin/{name}"), reverse=True)
    candidates += [f"/usr/local/bin/{name}", f"/usr/bin/{name}"]
    for candidate in dict.fromkeys(filter(None, candidates)):
        if _is_lambda_python(candidate):
            return Path(candidate)
    raise InterpreterNotFound(
        f"no CPython {PYTHON_VERSION} found (looked for {name} on PATH, `pyenv prefix {PYTHON_VERSION}`, "
        f"~/.pyenv/versions/{PYTHON_VERSION}.*, /usr/local/bin, /usr/bin). The Lambda runs Python "
        f"{PYTHON_VERSION}: install it (e.g. `pyenv install {PYTHON_VERSION}`) or set "
        f"{INTERPRETER_VARIABLE} to its path."
    )


def _is_lambda_python(executable: str) -> bool:
    if not os.access(executable, os.X_OK):
        return False
    probe = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run(  # noqa: S603 - a candidate interpreter, fixed script
            [executable, "-I", "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.split() == ["cpython", PYTHON_VERSION]


def download(wheelhouse: Path = WHEELHOUSE) -> None:
    """Fetch every wheel the requirements pin (network); honours the user's pip configuration.

    Downloads into a fresh directory and swaps it in, so a failed download leaves the previous
    wheelhouse intact and wheels no longer pinned do not linger.
    """
    staging = wheelhouse.with_name(wheelhouse.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(staging)]
    command += [*INSTALL_ARGS, "--requirement", str(REQUIREMENTS)]
    subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
    shutil.rmtree(wheelhouse, ignore_errors=True)
    staging.rename(wheelhouse)


def main(argv: list[str]) -> int:
    if argv == ["--interpreter"]:
        try:
            print(find_interpreter())
        except InterpreterNotFound as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m infra.wheelhouse [--interpreter]", file=sys.stderr)
        return 2
    download()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
