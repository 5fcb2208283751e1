"""Cold import of the handler from the asset as shipped, on CPython 3.13: `make coldimport`.

    python -m tests.runtime.coldimport [--rounds N] [--arm64]

Builds the asset with infra/bundling.py (what the stack deploys), then times `import
image_analysis.handler` in fresh interpreters, as Lambda's init does (AWS_LAMBDA_FUNCTION_NAME set,
tracing not disabled, no bytecode written), in two variants, interleaved:

* shipped bytecode: the asset as built, its 3.13 .pyc included;
* compiled at import: the same asset without its .pyc, i.e. what every cold start paid before the
  bundling compiled them (/var/task is read-only, so Lambda never keeps what it compiles).

On this machine's x86_64 CPython 3.13 the asset's arm64 native files cannot load, so it runs an x86_64
twin: the asset's files and bytecode unchanged, with each distribution's native files (.so, .libs)
swapped for the x86_64 build of the same version from .venv313. --arm64 also times the real asset on
Debian's arm64 python3.13 under qemu-user (tests/runtime/sysroot.py): qemu emulates each instruction,
so those times are many times Lambda's, useful only to compare the two variants. boto3 (the Lambda
runtime's, not in the asset) comes after the asset on sys.path, precompiled, from the arm64 cache's
runtime/ directory (pure Python). Needs `make test`'s set-up: .venv313 and .cache/arm64-python313.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra.bundling import UNUSED_FILES, bundle
from infra.wheelhouse import ROOT, find_interpreter
from tests.runtime import sysroot

VENV313_SITE = ROOT / ".venv313" / "lib" / "python3.13" / "site-packages"
IMPORT_SCRIPT = """
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
wall, cpu = time.perf_counter(), time.process_time()
import image_analysis.handler
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"wall_ms": wall * 1000, "cpu_ms": cpu * 1000,
                  "compiled": sum(p.startswith(task) for p in compiled)}))
"""
ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-coldimport",
    "RESULTS_TABLE": "imgpipe-coldimport",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
}
NATIVE = re.compile(r"\.so(\.[0-9.]+)?$")


def x86_64_twin(asset: Path, target: Path) -> Path:
    """The asset with its native files replaced by the x86_64 build of the same distributions."""
    shutil.copytree(asset, target)
    for path in [p for p in target.rglob("*") if p.is_file() and NATIVE.search(p.name)]:
        path.unlink()
    for dist_info in target.glob("*.dist-info"):
        installed = VENV313_SITE / dist_info.name
        if not installed.is_dir():
            raise SystemExit(f"{dist_info.name} is not in .venv313: run `make test` or `make venv313` first")
        for line in (installed / "RECORD").read_text().splitlines():
            relative = line.split(",", 1)[0]
            if NATIVE.search(relative) and not relative.startswith(".."):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(VENV313_SITE / relative, target / relative)
    for pattern in UNUSED_FILES:
        for path in target.glob(pattern):
            path.unlink()
    return target


def without_bytecode(asset: Path, target: Path) -> Path:
    shutil.copytree(asset, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def zipped_size(asset: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for path in sorted(p for p in asset.rglob("*") if p.is_file()):
            out.write(path, path.relative_to(asset).as_posix())
    return archive.stat().st_size


def time_import(python: list[str], task: Path, runtime: Path) -> dict[str, float]:
    done = subprocess.run(
        [*python, "-I", "-c", IMPORT_SCRIPT, str(task), str(runtime)],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"import failed ({' '.join(python)}):\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--arm64", action="store_true", help="also under qemu (slow: about a minute a round)")
    args = parser.parse_args(argv)
    reason = sysroot.unavailable_reason()
    if reason:
        raise SystemExit(f"needs boto3 from the arm64 cache: {reason}")
    with tempfile.TemporaryDirectory(prefix="imgpipe-coldimport-") as scratch:
        work = Path(scratch)
        asset = work / "asset"
        asset.mkdir()
        bundle(asset)
        pycs = list(asset.rglob("*.pyc"))
        source_only = without_bytecode(asset, work / "asset-no-pyc")
        sizes = {
            "asset as shipped": (
                sum(p.stat().st_size for p in asset.rglob("*") if p.is_file()),
                zipped_size(asset, work / "shipped.zip"),
            ),
            "asset without .pyc": (
                sum(p.stat().st_size for p in source_only.rglob("*") if p.is_file()),
                zipped_size(source_only, work / "no-pyc.zip"),
            ),
        }
        host = [str(find_interpreter())]
        twin = x86_64_twin(asset, work / "x86_64")
        variants = {
            "x86_64, shipped bytecode": (host, twin),
            "x86_64, compiled at import": (host, without_bytecode(twin, work / "x86_64-no-pyc")),
        }
        if args.arm64:
            variants["arm64 (qemu), shipped bytecode"] = (sysroot.python_command(), asset)
            variants["arm64 (qemu), compiled at import"] = (sysroot.python_command(), source_only)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for python, task in variants.values():  # warm the page cache and stdlib bytecode
            time_import(python, task, sysroot.RUNTIME)
        for round_ in range(args.rounds):
            for name, (python, task) in variants.items():
                samples[name].append(time_import(python, task, sysroot.RUNTIME))
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    print(
        f"CPython 3.13 ({host[0]}), {args.rounds} rounds, {len(pycs)} .pyc in the asset, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'variant':36} {'wall ms (median)':>17} {'fastest':>8} {'CPU ms (median)':>16} {'compiled':>9}")
    for name, runs in samples.items():
        wall = statistics.median(r["wall_ms"] for r in runs)
        cpu = statistics.median(r["cpu_ms"] for r in runs)
        fastest = min(r["wall_ms"] for r in runs)
        print(f"{name:36} {wall:17.0f} {fastest:8.0f} {cpu:16.0f} {int(runs[0]['compiled']):9d}")
    for name, (unzipped, zipped) in sizes.items():
        print(f"{name}: {unzipped:,} bytes unzipped, {zipped:,} bytes zipped (deflate 9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
