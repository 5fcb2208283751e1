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
swapped for the x86_64 build of the same version from .venv313, and boto3 (the Lambda runtime's, not
in the asset) after the asset on sys.path, precompiled, from .venv313 (bench/asset.py, which the
cold-start benchmark `python -m bench coldstart` shares). --arm64 also times the real asset on
Debian's arm64 python3.13 under qemu-user (tests/runtime/sysroot.py), with boto3 from the arm64
cache's runtime/ directory: qemu emulates each instruction, so those times are many times Lambda's,
useful only to compare the two variants. Needs `make test`'s set-up: .venv313 and, for --arm64,
.cache/arm64-python313.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.asset import (
    Unavailable,
    runtime_dir,
    time_import,
    unzipped_size,
    without_bytecode,
    x86_64_twin,
    zip_asset,
)
from infra.bundling import bundle
from infra.wheelhouse import find_interpreter
from tests.runtime import sysroot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--arm64", action="store_true", help="also under qemu (slow: about a minute a round)")
    args = parser.parse_args(argv)
    if args.arm64:
        reason = sysroot.unavailable_reason()
        if reason:
            raise SystemExit(f"--arm64 needs the arm64 Python: {reason}")
    with tempfile.TemporaryDirectory(prefix="imgpipe-coldimport-") as scratch:
        work = Path(scratch)
        asset = work / "asset"
        asset.mkdir()
        bundle(asset)
        pycs = list(asset.rglob("*.pyc"))
        source_only = without_bytecode(asset, work / "asset-no-pyc")
        sizes = {
            "asset as shipped": (unzipped_size(asset), zip_asset(asset, work / "shipped.zip")),
            "asset without .pyc": (unzipped_size(source_only), zip_asset(source_only, work / "no-pyc.zip")),
        }
        host = [str(find_interpreter())]
        try:
            twin = x86_64_twin(asset, work / "x86_64")
            runtime = runtime_dir(work / "runtime")
        except Unavailable as error:
            raise SystemExit(str(error)) from error
        variants = {
            "x86_64, shipped bytecode": (host, twin, runtime),
            "x86_64, compiled at import": (host, without_bytecode(twin, work / "x86_64-no-pyc"), runtime),
        }
        if args.arm64:
            arm64 = sysroot.python_command()
            variants["arm64 (qemu), shipped bytecode"] = (arm64, asset, sysroot.RUNTIME)
            variants["arm64 (qemu), compiled at import"] = (arm64, source_only, sysroot.RUNTIME)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for python, task, boto3 in variants.values():  # warm the page cache and stdlib bytecode
            time_import(python, task, boto3)
        for round_ in range(args.rounds):
            for name, (python, task, boto3) in variants.items():
                samples[name].append(time_import(python, task, boto3))
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
