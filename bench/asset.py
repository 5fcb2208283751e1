"""The function's asset imported by CPython 3.13 on this machine, with and without its bytecode.

Shared by the cold-start benchmark (bench/coldstart.py) and `make coldimport`
(tests/runtime/coldimport.py). The asset is what infra/bundling.py builds for linux/arm64: on an
x86_64 machine its native files cannot load, so the import runs on an x86_64 twin, the asset's files
and bytecode unchanged with each distribution's native files (.so, .libs) swapped for the x86_64
build of the same version from .venv313 (`make venv313`, which installs the same pins). boto3 and
its dependencies, which the Lambda runtime provides after the asset on sys.path (/var/runtime), come
from .venv313 too, precompiled.

Nothing here is imported at module level but the standard library: the cold-start benchmark's
first-use child imports this module on the 3.13 interpreter, with no site-packages.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from .common import ROOT

VENV313_SITE = ROOT / ".venv313" / "lib" / "python3.13" / "site-packages"
# What the Lambda Python runtime provides (/var/runtime), not the asset: boto3 and its dependencies.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "urllib3", "six")
NATIVE = re.compile(r"\.so(\.[0-9.]+)?$")
# The environment of a Lambda init, for the import: tracing not disabled (Powertools' Tracer then
# loads the X-Ray SDK at import, as on Lambda), no credentials needed.
ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-coldimport",
    "RESULTS_TABLE": "imgpipe-coldimport",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
}
MARK = "--imgpipe-coldimport--"
# Run with `python -I -c IMPORT_SCRIPT TASK_ROOT RUNTIME_DIR`: the asset then the runtime first on
# sys.path, no bytecode written (/var/task is read-only), and every module of the asset that is
# compiled from source counted (importlib calls `source_to_code` exactly then).
IMPORT_SCRIPT = f"""
import importlib._bootstrap_external as external, json, sys, time
task = sys.argv[1]
compiled = []
original = external.SourceLoader.source_to_code
def recording(self, data, path, *, _optimize=-1):
    compiled.append(str(path))
    return original(self, data, path, _optimize=_optimize)
external.SourceLoader.source_to_code = recording
sys.dont_write_bytecode = True
sys.path[0:0] = [task, sys.argv[2]]
sys.stderr.write("{MARK}\\n")
wall, cpu = time.perf_counter(), time.process_time()
import image_analysis.handler
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"wall_ms": wall * 1000, "cpu_ms": cpu * 1000,
                  "compiled": sum(p.startswith(task) for p in compiled)}}))
"""


class Unavailable(RuntimeError):
    """What the measurement needs is missing here; the message says what to run."""


def _installed(distribution: str) -> Path:
    found = sorted(VENV313_SITE.glob(f"{distribution}-*.dist-info"), key=lambda p: p.name.lower())
    if not found:
        raise Unavailable(f"{distribution} is not in .venv313: run `make venv313` (`make test` does)")
    return found[0]


def x86_64_twin(asset: Path, target: Path) -> Path:
    """The asset with its native files replaced by the x86_64 build of the same distributions."""
    from infra.bundling import UNUSED_FILES  # not at module level: it imports the CDK

    shutil.copytree(asset, target)
    for path in [p for p in target.rglob("*") if p.is_file() and NATIVE.search(p.name)]:
        path.unlink()
    for dist_info in target.glob("*.dist-info"):
        installed = VENV313_SITE / dist_info.name
        if not installed.is_dir():
            raise Unavailable(f"{dist_info.name} is not in .venv313: run `make venv313` (`make test` does)")
        for line in (installed / "RECORD").read_text().splitlines():
            relative = line.split(",", 1)[0]
            if NATIVE.search(relative) and not relative.startswith(".."):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(VENV313_SITE / relative, target / relative)
    for pattern in UNUSED_FILES:
        for path in target.glob(pattern):
            path.unlink()
    return target


def runtime_dir(target: Path) -> Path:
    """A stand-in for /var/runtime: links to boto3 and its dependencies in .venv313 (with 3.13 bytecode)."""
    target.mkdir()
    for distribution in RUNTIME_DISTRIBUTIONS:
        dist_info = _installed(distribution)
        tops = {
            line.split(",", 1)[0].split("/", 1)[0] for line in (dist_info / "RECORD").read_text().splitlines()
        }
        for top in sorted(tops - {"..", ""}):
            if not (target / top).exists() and (VENV313_SITE / top).exists():
                (target / top).symlink_to(VENV313_SITE / top)
    return target


def without_bytecode(asset: Path, target: Path) -> Path:
    """The same files less every __pycache__: what every cold start compiled before the asset shipped .pyc."""
    shutil.copytree(asset, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def zip_asset(asset: Path, archive: Path) -> int:
    """Zipped as cdk-assets does (deflate, level 9, sorted): the archive's size in bytes."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for path in sorted(p for p in asset.rglob("*") if p.is_file()):
            out.write(path, path.relative_to(asset).as_posix())
    return archive.stat().st_size


def unzipped_size(asset: Path) -> int:
    return sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())


def time_import(
    python: list[str], task: Path, runtime: Path, env: dict[str, str] | None = None, importtime: bool = False
) -> dict[str, Any]:
    """`import image_analysis.handler` from `task` in a fresh interpreter: wall and CPU ms, modules of
    the asset compiled from source, and with `importtime` the (module, self µs, cumulative µs) rows."""
    argv = [*python, "-I", *(["-X", "importtime"] if importtime else []), "-c", IMPORT_SCRIPT]
    done = subprocess.run(  # noqa: S603 - our own script, the interpreter under test
        [*argv, str(task), str(runtime)],
        env=env or ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import failed ({' '.join(python)}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if importtime:
        result["tree"] = parse_importtime(done.stderr)
    return result


def parse_importtime(stderr: str) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) for every module imported after MARK."""
    rows: list[tuple[str, int, int]] = []
    lines = stderr.splitlines()
    start = lines.index(MARK) + 1 if MARK in lines else 0
    for line in lines[start:]:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append((name.rstrip(), int(self_us), int(cumulative_us)))
    return rows
