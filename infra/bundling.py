"""The function's code asset, bundled on this machine without Docker and without network.

The bundle is the Lambda package (`lambdas/image_analysis/` -> `image_analysis/`) plus its pinned
requirements installed for linux/arm64 from the wheelhouse `make install` filled, less the parts of
Pillow and Powertools the function can never load (UNUSED_FILES, UNUSED_PACKAGES), with every
module's bytecode compiled by a CPython of the Lambda's version (3.13). The asset hash is taken from
the bundle's output, so a changed dependency changes the hash and is always deployed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from .wheelhouse import (
    INSTALL_ARGS,
    LAMBDA_SOURCE,
    PYTHON_VERSION,
    REQUIREMENTS,
    WHEELHOUSE,
    InterpreterNotFound,
    find_interpreter,
)

PACKAGE: Final = "image_analysis"
HANDLER: Final = f"{PACKAGE}.handler.lambda_handler"
# Lambda refuses a function whose unzipped code exceeds 250 MB; failing here saves a failed deploy.
MAX_UNZIPPED_BYTES: Final = 262_144_000
# Where Lambda unpacks the code: the source path recorded in the bytecode (tracebacks use the real
# path anyway), so the .pyc bytes do not depend on where the bundle was built.
TASK_ROOT: Final = "/var/task"
# Parts of the Pillow wheel the pipeline can never load: the AVIF codec (AVIF is not an accepted
# input) and text rendering (ImageFont), with the shared libraries only they link to. Saves ~8 MB
# unzipped / ~3 MB zipped; tests/infra/test_bundling.py proves nothing left links to them.
UNUSED_FILES: Final = (
    "PIL/_avif.*.so",
    "pillow.libs/libavif-*",
    "PIL/_imagingft.*.so",
    "pillow.libs/libfreetype-*",
    "pillow.libs/libharfbuzz-*",
    "pillow.libs/libpng16-*",
    "pillow.libs/libbrotli*",
    "PIL/_imagingtk.*.so",
)
# Subpackages of aws-lambda-powertools the function never imports, removed with their bytecode. It
# uses Logger, Tracer, Metrics, utilities.batch (with the SQS data classes, whose package imports all
# of data_classes) and utilities.typing; what those import is kept: logging, metrics, tracing,
# shared, middleware_factory, utilities.jmespath_utils and the package's top-level modules. Saves
# ~4.2 MB unzipped / ~1.4 MB zipped with the bytecode. tests/infra/test_bundling.py scans every module
# left for an import of a pruned part, then imports each one from the bundle; the only imports it
# finds run only with pydantic, which neither the asset nor the Lambda runtime provides.
UNUSED_PACKAGES: Final = {
    "aws_lambda_powertools/event_handler": "HTTP/GraphQL/agent routers; this is an SQS consumer",
    "aws_lambda_powertools/utilities/parser": "pydantic models and envelopes (pydantic is not in the asset)",
    "aws_lambda_powertools/utilities/idempotency": "the pipeline has its own (DynamoDB claims)",
    "aws_lambda_powertools/utilities/parameters": "SSM/Secrets/AppConfig; settings are env vars",
    "aws_lambda_powertools/utilities/feature_flags": "AppConfig feature flags, not used",
    "aws_lambda_powertools/utilities/auth_alpha": "JWT/OAuth2 helpers, not used",
    "aws_lambda_powertools/utilities/circuit_breaker": "not used",
    "aws_lambda_powertools/utilities/data_masking": "not used",
    "aws_lambda_powertools/utilities/kafka": "Kafka consumer deserialisation, not used",
    "aws_lambda_powertools/utilities/streaming": "S3 streaming and transforms, not used",
    "aws_lambda_powertools/utilities/validation": "JSON Schema (fastjsonschema is not in the asset)",
    "aws_lambda_powertools/utilities/metadata": "Lambda metadata endpoint client, not used",
}


class BundlingError(RuntimeError):
    """The asset could not be built; the message says what to do."""


def function_code(runtime: lambda_.Runtime) -> lambda_.Code:
    # The Docker image is required by the API but never used: the local bundler either succeeds or
    # raises, so a machine without Docker gets a clear error instead of a Docker attempt.
    return lambda_.Code.from_asset(
        str(LAMBDA_SOURCE),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(image=runtime.bundling_image, local=_LocalBundler()),
    )


def bundle(output: Path, wheelhouse: Path = WHEELHOUSE) -> None:
    """Write the function's package and dependencies into `output` (an empty directory)."""
    if not any(wheelhouse.glob("*.whl")):
        raise BundlingError(f"no wheels in {wheelhouse}: run `make install` (it downloads them once)")
    shutil.copytree(LAMBDA_SOURCE, output / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _pip_install(output, wheelhouse)
    # Console scripts carry this machine's interpreter path in their shebang: useless on Lambda,
    # and they would make the output hash depend on where the repository is checked out.
    shutil.rmtree(output / "bin", ignore_errors=True)
    prune(output)
    compile_bytecode(output)
    size = sum(f.stat().st_size for f in output.rglob("*") if f.is_file())
    if size > MAX_UNZIPPED_BYTES:
        raise BundlingError(f"the bundle is {size:,} bytes unzipped; Lambda allows {MAX_UNZIPPED_BYTES:,}")


def prune(output: Path) -> None:
    """Remove UNUSED_FILES and UNUSED_PACKAGES from an installed bundle (before it is compiled)."""
    for pattern in UNUSED_FILES:
        for path in output.glob(pattern):
            path.unlink()
    for package in UNUSED_PACKAGES:
        shutil.rmtree(output / package, ignore_errors=True)


def _pip_install(output: Path, wheelhouse: Path) -> None:
    # --isolated: ignore PIP_* variables and user config (a bundle must not depend on the shell).
    # --no-compile: .pyc files made by this interpreter are for the wrong Python version (Python 3.13
    # ignores a cpython-311 .pyc); compile_bytecode() writes the ones the Lambda's Python uses.
    command = [sys.executable, "-m", "pip", "--isolated", "install", "--quiet", "--no-compile"]
    command += ["--no-index", "--find-links", str(wheelhouse), "--target", str(output)]
    command += [*INSTALL_ARGS, "--requirement", str(REQUIREMENTS)]
    result = subprocess.run(command, check=False)  # noqa: S603 - fixed argv, no shell
    if result.returncode != 0:
        raise BundlingError(
            f"pip could not install {REQUIREMENTS} from {wheelhouse} (exit {result.returncode}); "
            "if the requirements changed, run `make install` to download the new wheels"
        )


def compile_bytecode(output: Path, interpreter: Path | None = None) -> None:
    """Compile every module in `output` with CPython 3.13, the Lambda's Python, as hash-based .pyc.

    /var/task is read-only on Lambda, so a module without a valid .pyc is compiled from source at
    every cold start (and the result thrown away). Compiled here instead, by the Lambda's Python
    version (a .pyc is only used by the version whose magic number it carries):
    * `unchecked-hash`: the interpreter uses the .pyc without looking at the source's timestamp or
      contents. Timestamp-based .pyc would not be valid on Lambda, whose unzipped files carry the
      zip's dates, and the asset's files never change once deployed;
    * the path recorded is TASK_ROOT's, not this machine's, so the same sources always give the same
      bytes and the asset hash (taken from the output) only changes when the code does.
    """
    try:
        python = interpreter or find_interpreter()
    except InterpreterNotFound as error:
        raise BundlingError(f"cannot compile the asset's bytecode: {error}") from error
    command = [str(python), "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode"]
    command += ["unchecked-hash", "-s", str(output), "-p", TASK_ROOT, str(output)]
    result = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise BundlingError(
            f"Python {PYTHON_VERSION} ({python}) could not compile the bundle (exit {result.returncode}):\n"
            + (result.stdout + result.stderr).strip()[-3000:]
        )


@jsii.implements(ILocalBundling)
class _LocalBundler:
    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        bundle(Path(output_dir))
        return True
