"""4. Cold start: the handler's import time, its first-use costs, and the bundled asset's size.

Import time is measured in fresh interpreters started with `python -c` (nothing of the benchmark
imported first), as Lambda's runtime would import the handler: `AWS_LAMBDA_FUNCTION_NAME` set and
`POWERTOOLS_TRACE_DISABLED` unset (so Powertools' Tracer loads the X-Ray SDK). Two variants:

* bytecode cached: the packages' .pyc files exist (a developer's venv);
* bundle compiled at import: the asset ships no .pyc (infra/bundling.py installs with --no-compile)
  and /var/task is read-only on Lambda, so the bundled packages are compiled from source at every
  cold start. Simulated with a private bytecode cache (PYTHONPYCACHEPREFIX) that holds the standard
  library and boto3's packages (the Lambda runtime provides those) but not the bundled ones.

The asset is built with infra/bundling.py's `bundle()` (what the stack deploys), zipped with
ZIP_DEFLATED at level 9.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from . import common
from .common import Options, interleaved, median, ratio, verdict

NAME = "coldstart"
TITLE = "Cold start"
TARGET_IMPORT_MS = 400
TARGET_ZIP_MB = 20
MARK = "--imgpipe-bench-import--"
IMPORT_SCRIPT = f"""
import sys, time
sys.stderr.write("{MARK}\\n")
wall, cpu = time.perf_counter(), time.process_time()
import image_analysis.handler
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
import json
print(json.dumps({{"wall_s": wall, "cpu_s": cpu}}))
"""
# What the Lambda Python runtime provides (not in the asset): compiled there, so compiled here too.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six")


def lambda_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = common.clean_environ()
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"AWS_LAMBDA_FUNCTION_NAME": "imgpipe-bench", "RESULTS_TABLE": "imgpipe-bench"})
    env.update(extra or {})
    return env


def _import_once(env: dict[str, str], importtime: bool = False) -> dict[str, Any]:
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", IMPORT_SCRIPT]
    done = subprocess.run(argv, cwd=common.ROOT, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if importtime:
        result["tree"] = _parse_importtime(done.stderr)
    return result


def _parse_importtime(stderr: str) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) for every module the handler's import loaded."""
    rows: list[tuple[str, int, int]] = []
    lines = stderr.splitlines()
    start = lines.index(MARK) + 1 if MARK in lines else 0
    for line in lines[start:]:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        rows.append((name.rstrip(), int(self_us), int(cumulative_us)))
    return rows


def _prime_bytecode(prefix: Path, bundled: list[str]) -> None:
    """Fill a private bytecode cache by importing once, then drop the bundled packages' bytecode."""
    env = lambda_env({"PYTHONPYCACHEPREFIX": str(prefix)})
    argv = [sys.executable, "-c", IMPORT_SCRIPT]
    subprocess.run(argv, cwd=common.ROOT, env=env, capture_output=True, check=True)  # noqa: S603
    import importlib.util

    for name in bundled:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin).resolve()
        source = origin.parent if spec.submodule_search_locations else origin
        cached = prefix / source.relative_to(source.anchor)
        if cached.is_dir():
            shutil.rmtree(cached)
        else:
            for pyc in cached.parent.glob(f"{source.stem}.*.pyc"):
                pyc.unlink()


def first_use_child(image: str) -> dict[str, Any]:
    """What the first invocation pays after the import: clients, first preparation, geocoder data."""
    import image_analysis.handler  # noqa: F401 - imported first, as Lambda's init does
    from image_analysis.imaging import geo
    from image_analysis.imaging.prepare import prepare
    from image_analysis.runtime import build_runtime
    from image_analysis.settings import Settings

    costs: dict[str, float] = {}

    def timed(label: str, call: Any) -> Any:
        start = time.perf_counter()
        value = call()
        costs[label] = time.perf_counter() - start
        return value

    runtime = timed("settings and AWS clients (`build_runtime`)", lambda: build_runtime(Settings.from_env()))
    runtime.executor.shutdown()
    settings = runtime.settings
    data = Path(image).read_bytes()
    limits = common.limits(settings)
    timed("first `prepare` (12 MP JPEG)", lambda: prepare(data, limits))
    timed("second `prepare`, same picture (warm)", lambda: prepare(data, limits))
    import_tz = "time-zone polygons (`import tzfpy` + first lookup)"
    timed(import_tz, lambda: __import__("tzfpy").get_tz(2.29, 48.85))
    timed("IANA zone tables (`geo._zone_tables`)", geo._zone_tables)
    timed("GeoNames grid (`geo._towns_grid`)", geo._towns_grid)
    timed("a reverse geocode, warm", lambda: geo.reverse_geocode(48.85837, 2.29448))
    return costs


def _bundle(target: Path) -> dict[str, Any]:
    """The asset exactly as the stack builds it (infra/bundling.py), in a subprocess."""
    script = (
        "import sys; from pathlib import Path; from infra.bundling import bundle; bundle(Path(sys.argv[1]))"
    )
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own module with our own interpreter
        [sys.executable, "-c", script, str(target)],
        cwd=common.ROOT,
        env=common.clean_environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip() or done.stdout.strip())[-1500:]}
    elapsed = time.perf_counter() - start
    zipped = target.parent / "asset.zip"
    unzipped_by: dict[str, int] = {}
    zipped_by: dict[str, int] = {}
    files = 0
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            relative = path.relative_to(target).as_posix()
            archive.write(path, relative)
            files += 1
    with zipfile.ZipFile(zipped) as archive:
        for info in archive.infolist():
            top = _contributor(info.filename)
            unzipped_by[top] = unzipped_by.get(top, 0) + info.file_size
            zipped_by[top] = zipped_by.get(top, 0) + info.compress_size
    return {
        "bundle_s": elapsed,
        "files": files,
        "unzipped_bytes": sum(unzipped_by.values()),
        "zipped_bytes": zipped.stat().st_size,
        "contributors": sorted(
            ({"name": k, "unzipped": unzipped_by[k], "zipped": zipped_by[k]} for k in unzipped_by),
            key=lambda row: -row["zipped"],
        ),
    }


def _contributor(name: str) -> str:
    """A distribution's files (package, .libs, .dist-info, stubs, extension modules) count as one."""
    top = name.split("/", 1)[0]
    if top.endswith((".dist-info", ".data")):
        top = top.rsplit(".", 1)[0].split("-")[0]
    top = top.split(".")[0].split("-")[0].lstrip("_")
    return {"pillow": "PIL"}.get(top.lower(), top)


def run(options: Options) -> dict[str, Any]:
    rounds = options.pick(9, 3)
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-asset-") as scratch:
        common.log("coldstart: bundling the Lambda asset with infra/bundling.py")
        asset = _bundle(Path(scratch) / "asset")
        bundled = sorted(
            {c["name"] for c in asset.get("contributors", [])}
            | {"image_analysis", "PIL", "pillow_heif", "aws_lambda_powertools", "aws_xray_sdk", "wrapt"}
            - {"bin"}
        )
        bundled = [name for name in bundled if "." not in name and name not in RUNTIME_PACKAGES]
        prefix = Path(scratch) / "pycache"
        common.log("coldstart: import time")
        _prime_bytecode(prefix, bundled)
        compiling = lambda_env({"PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": "1"})
        cached = lambda_env()
        _import_once(cached)  # make sure the venv's own bytecode is written before timing
        samples = interleaved(
            {
                "bytecode cached": lambda _r: _import_once(cached),
                "bundle compiled at import": lambda _r: _import_once(compiling),
            },
            rounds,
        )
        trees = [_import_once(cached, importtime=True)["tree"] for _ in range(options.pick(3, 1))]
    common.log("coldstart: first-use costs")
    image = common.camera_jpeg((4000, 3000))
    first_use = [
        common.run_child(["first-use", str(image)], env=lambda_env()) for _ in range(options.pick(3, 1))
    ]
    return {
        "rounds": rounds,
        "import": samples,
        "contributors": _contributors(trees),
        "handler_cumulative_ms": median([_handler_cumulative(tree) for tree in trees]),
        "first_use": {k: median([run[k] for run in first_use]) for k in first_use[0]},
        "asset": asset,
        "bundled_packages": bundled,
    }


def _handler_cumulative(tree: list[tuple[str, int, int]]) -> float:
    return (
        sum(c for name, _, c in tree if name.strip() in ("image_analysis", "image_analysis.handler")) / 1000
    )


def _contributors(trees: list[list[tuple[str, int, int]]]) -> list[dict[str, Any]]:
    """Median self time per top-level package over the -X importtime runs, largest first."""
    per_run: list[dict[str, float]] = []
    for tree in trees:
        totals: dict[str, float] = {}
        for name, self_us, _ in tree:
            top = name.strip().split(".")[0]
            totals[top] = totals.get(top, 0.0) + self_us / 1000
        per_run.append(totals)
    names = {name for run in per_run for name in run}
    rows = [{"package": n, "ms": median([run.get(n, 0.0) for run in per_run])} for n in names]
    return sorted(rows, key=lambda row: -row["ms"])


def summary(result: dict[str, Any]) -> dict[str, float]:
    samples = result["import"]
    ms = {
        f"{variant} {kind}": median([s[f"{kind}_s"] for s in samples[variant]]) * 1000
        for variant in samples
        for kind in ("wall", "cpu")
    }
    ms.update(
        {f"{variant} fastest": min(s["wall_s"] for s in samples[variant]) * 1000 for variant in samples}
    )
    return ms


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    ms = summary(result)
    rows = [
        {
            "benchmark": TITLE,
            "target": f"handler import ≤ {TARGET_IMPORT_MS} ms ({variant})",
            "measured": f"{ms[f'{variant} wall']:.0f} ms",
            "verdict": verdict(ms[f"{variant} wall"], TARGET_IMPORT_MS, higher_is_better=False),
        }
        for variant in result["import"]
    ]
    asset = result["asset"]
    if "zipped_bytes" in asset:
        mb = asset["zipped_bytes"] / 1e6
        rows.append(
            {
                "benchmark": TITLE,
                "target": f"asset ≤ {TARGET_ZIP_MB} MB zipped",
                "measured": f"{mb:.1f} MB",
                "verdict": verdict(mb, TARGET_ZIP_MB, higher_is_better=False),
            }
        )
    else:
        rows.append(
            {
                "benchmark": TITLE,
                "target": f"asset ≤ {TARGET_ZIP_MB} MB zipped",
                "measured": "not built",
                "verdict": "not measured",
            }
        )
    return rows


def section(result: dict[str, Any]) -> str:
    ms = summary(result)
    machine = result["machine"]
    lines = [
        f"## 4. {TITLE}",
        "",
        "### Handler import",
        "",
        f"`import image_analysis.handler` in a fresh interpreter, {result['rounds']} interleaved runs per",
        "variant, medians, with `AWS_LAMBDA_FUNCTION_NAME` set and `POWERTOOLS_TRACE_DISABLED` unset as on",
        f"Lambda. Measured on Python {machine['python']} here; the function runs Python 3.13 on arm64 with",
        "2048 MB (a little over one vCPU), so the absolute numbers there differ. *CPU* is the import's",
        "own CPU time: less sensitive than wall time to other work on the machine.",
        "",
        "| variant | wall ms (median) | fastest run | CPU ms (median) | target | verdict (median wall) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for variant in result["import"]:
        wall, cpu, fastest = ms[f"{variant} wall"], ms[f"{variant} cpu"], ms[f"{variant} fastest"]
        lines.append(
            f"| {variant} | **{wall:.0f}** | {fastest:.0f} | {cpu:.0f} | ≤ {TARGET_IMPORT_MS} | "
            f"{verdict(wall, TARGET_IMPORT_MS, False)} |"
        )
    lines += [
        "",
        "*bundle compiled at import* is what a Lambda cold start does: the asset carries no `.pyc` and",
        "`/var/task` is read-only, so the bundled packages (" + ", ".join(result["bundled_packages"]) + ")",
        "are compiled from source each time; boto3 and the standard library belong to the runtime and",
        "are taken as precompiled.",
    ]
    variants = list(result["import"])
    if len(variants) == 2:
        slower = ratio(ms[f"{variants[1]} wall"], ms[f"{variants[0]} wall"])
        lines += [
            "",
            f"Compiling the bundle at import makes the import **{slower:.2f}×** as long (ratio of medians).",
        ]
    for variant in variants:
        wall, cpu = ms[f"{variant} wall"], ms[f"{variant} cpu"]
        if wall > TARGET_IMPORT_MS >= cpu:
            lines += [
                "",
                f"*{variant}*: the median wall time misses the target but the import's own CPU time "
                f"({cpu:.0f} ms) is within it: the difference is time spent waiting for a core on this "
                "busy machine.",
            ]
        elif wall > TARGET_IMPORT_MS and variant != variants[0]:
            extra = wall - ms[f"{variants[0]} wall"]
            lines += [
                "",
                f"*{variant}*: misses the target in CPU time too ({cpu:.0f} ms), so not because the machine",
                f"was busy: the {extra:.0f} ms over the cached import is compiling the bundled packages from",
                "source. The contributors below (cached) show where the rest goes.",
            ]
        elif wall > TARGET_IMPORT_MS:
            lines += [
                "",
                f"*{variant}*: misses the target in CPU time too ({cpu:.0f} ms), so not only because the",
                "machine was busy; the contributors below show where the time goes.",
            ]
    lines += [
        "",
        "Largest contributors (self time per top-level package, `python -X importtime`, bytecode cached;",
        f"`image_analysis` + `image_analysis.handler` cumulative: {result['handler_cumulative_ms']:.0f} ms,",
        "importtime's own overhead included):",
        "",
        "| package | ms |",
        "|---|---:|",
    ]
    for row in result["contributors"][:10]:
        lines.append(f"| `{row['package']}` | {row['ms']:.0f} |")
    if result["contributors"] and result["contributors"][0]["package"] == "aws_xray_sdk":
        lines += [
            "",
            "`aws_xray_sdk` comes first because Powertools' Tracer imports it when tracing is not disabled,",
            "and its module body builds a recorder whose sampling connector creates a botocore session,",
            "which parses botocore's endpoint and partition data (JSON) at import time.",
        ]
    lines += [
        "",
        "### First-use costs (first invocation, after the import)",
        "",
        "| step | ms |",
        "|---|---:|",
    ]
    for step, seconds in result["first_use"].items():
        lines.append(f"| {step} | {seconds * 1000:.0f} |")
    lines += [
        "",
        "The geocoder's data (time-zone polygons, zone tables, GeoNames grid) is loaded on the first image",
        "with GPS coordinates only, not at import.",
        "",
        "### Asset size",
        "",
    ]
    asset = result["asset"]
    if "zipped_bytes" not in asset:
        lines += [
            "The asset could not be built on this machine:",
            "",
            "```",
            asset.get("error", "?"),
            "```",
            "",
        ]
        return "\n".join(lines)
    zipped_mb = asset["zipped_bytes"] / 1e6
    lines += [
        "Built with `infra/bundling.py` (`bundle()`, what the stack deploys: linux/arm64 cp313 wheels",
        f"from the wheelhouse, `--no-deps`, no boto3) in {asset['bundle_s']:.0f} s; {asset['files']} files.",
        "",
        "| | bytes | MB |",
        "|---|---:|---:|",
        f"| unzipped | {asset['unzipped_bytes']:,} | {asset['unzipped_bytes'] / 1e6:.1f} |",
        f"| zipped (ZIP_DEFLATED, level 9) | {asset['zipped_bytes']:,} | **{zipped_mb:.1f}** |",
        "",
        f"**Target ≤ {TARGET_ZIP_MB} MB zipped:** {zipped_mb:.1f} MB — "
        f"{verdict(zipped_mb, TARGET_ZIP_MB, False)} (Lambda's own limits: 50 MB zipped for a direct upload, "
        "250 MB unzipped).",
        "",
        "Top 10 contributors (a distribution's package, `.libs` and `.dist-info` together):",
        "",
        "| contributor | unzipped MB | zipped MB |",
        "|---|---:|---:|",
    ]
    for row in asset["contributors"][:10]:
        lines.append(f"| `{row['name']}` | {row['unzipped'] / 1e6:.2f} | {row['zipped'] / 1e6:.2f} |")
    lines.append("")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """No plot for this benchmark: the tables say it."""
