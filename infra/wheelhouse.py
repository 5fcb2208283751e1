"""The Lambda's dependencies as wheels for its platform, downloaded once so synth works offline.

`make install` runs `python -m infra.wheelhouse`, a `pip download` of the Lambda's pinned
requirements for linux/arm64 into WHEELHOUSE; bundling (infra/bundling.py) then installs from that
directory only (`--no-index`). Both use INSTALL_ARGS, so the two can never target different
platforms or resolve dependencies differently. No aws_cdk import here: the Makefile runs this
before anything else is needed.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    download()
