"""1. Image preparation: the pipeline's `imaging.prepare` against a naive baseline.

The naive baseline is the seed script's way, as the issue defines it: full decode, `convert("RGB")`,
`thumbnail((1024, 1024), LANCZOS)`, `save(JPEG, quality=85, optimize=True)`. It makes ONE rendition;
the pipeline makes two (2048 px for Rekognition, 1024 px for Bedrock), honours EXIF orientation and
colour profiles, and flattens transparency onto white.

Every measurement runs in a fresh interpreter that has already imported Pillow and the pipeline and
read the file: its peak-RSS mark is reset (/proc/self/clear_refs) and the peak RSS increase is the
high-water mark after the first preparation minus the RSS before it. Throughput comes from the
preparations after that first one (warm), all pooled; medians, interleaved rounds.

Small and thin pictures (SMALL_CASES) are measured the same way in the same run, and their table
adds what the pipeline actually sends: a picture under 80 px a side is enlarged for Rekognition just
enough (never to the 2048 px cap), a panorama too thin for that is padded, and Bedrock gets the
picture at its own size when it is under 1024 px.
"""

from __future__ import annotations

import cProfile
import gc
import io
import math
import pstats
import re
import resource
import time
from pathlib import Path
from typing import Any

from . import common
from .common import Options, interleaved, median, ratio, verdict

NAME = "prep"
TITLE = "Image preparation"
PLOT = "bench-prep.png"
CONTENDERS = ("pipeline", "naive")
TARGET_CASE = "24 MP JPEG"
TARGET_SPEEDUP = 1.5  # pipeline throughput / naive throughput, at least
TARGET_MEMORY = 0.6  # pipeline peak RSS increase / naive's, at most

# (label, size, format): realistic camera aspect ratios (4:3 and 3:2).
CASES: tuple[tuple[str, tuple[int, int], str], ...] = (
    ("1 MP JPEG", (1152, 864), "JPEG"),
    ("12 MP JPEG", (4000, 3000), "JPEG"),
    ("24 MP JPEG", (6000, 4000), "JPEG"),
    ("48 MP JPEG", (8000, 6000), "JPEG"),
    ("12 MP PNG (RGBA)", (4000, 3000), "PNG"),
)
# Pictures Rekognition's 80 px minimum side applies to, and a long screenshot: (label, size, format).
SMALL_CASES: tuple[tuple[str, tuple[int, int], str], ...] = (
    ("100×68 JPEG (EXIF)", (100, 68), "JPEG+EXIF"),
    ("20000×300 panorama JPEG", (20000, 300), "JPEG"),
    ("1170×20000 screenshot PNG", (1170, 20000), "PNG (RGB)"),
)
TINY_PIXELS = 100_000  # under this a preparation takes about a millisecond: more of them per interpreter
TINY_PROFILE_REPEATS = 200


def image_file(label: str, size: tuple[int, int], fmt: str) -> Path:
    w, h = size
    if fmt == "JPEG":
        return common.camera_jpeg(size)
    if fmt == "JPEG+EXIF":
        return common.exif_camera_jpeg(size)
    if fmt == "PNG (RGB)":
        return common.screenshot_png(size)
    return common.cached_image(f"graphic-{w}x{h}-rgba.png", lambda: _rgba_png(size))


def _rgba_png(size: tuple[int, int]) -> bytes:
    """A large RGBA PNG: a photo-like picture with a soft transparent border (a cut-out or a render)."""
    from PIL import Image, ImageDraw, ImageFilter

    picture = common.photo(size, seed=5).convert("RGBA")
    w, h = size
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((w // 10, h // 10, w - w // 10, h - h // 10), fill=255)
    picture.putalpha(mask.filter(ImageFilter.GaussianBlur(min(w, h) // 50)))
    return common.encode(picture, "PNG")


# --------------------------------------------------------------------------- the two contenders


def _pipeline_prepare() -> Any:
    from image_analysis.imaging.prepare import prepare
    from image_analysis.settings import Settings

    limits = common.limits(Settings(results_table="bench", enable_embeddings=False))  # the defaults
    return lambda data: prepare(data, limits)


def _naive_prepare() -> Any:
    from PIL import Image

    def naive(data: bytes) -> bytes:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        image.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85, optimize=True)
        return out.getvalue()

    return naive


def child(contender: str, path: str, iterations: int) -> dict[str, Any]:
    """In a fresh interpreter: peak RSS increase of the first run, then the time of every run."""
    import PIL.Image  # noqa: F401 - both contenders start from the same imports
    from image_analysis.imaging import prepare  # noqa: F401

    work = {"pipeline": _pipeline_prepare, "naive": _naive_prepare}[contender]()
    data = Path(path).read_bytes()
    gc.collect()
    resettable = _reset_peak()
    before = _rss_kib()
    high_before = _peak_kib(resettable)
    times, peak_kib, made = [], 0, None
    for number in range(iterations):
        start = time.perf_counter()
        made = work(data)
        times.append(time.perf_counter() - start)
        if number == 0:
            peak_kib = _peak_kib(resettable) - before
    sent = [r for r in (getattr(made, "rekognition", None), getattr(made, "bedrock", None)) if r]
    if isinstance(made, bytes):  # the baseline's one JPEG
        from PIL import Image

        with Image.open(io.BytesIO(made)) as output:
            produced = [[output.width, output.height, len(made)]]
    else:
        produced = [[r.width, r.height, len(r.data)] for r in sent]
    return {
        "renditions": [[r.width, r.height] for r in sent],  # the pipeline's: Rekognition's, then Bedrock's
        "produced": produced,  # [width, height, bytes] of every JPEG made, in the same order
        "padded": [list(r.content) if r.content else None for r in sent],  # where the picture lies
        "first_s": times[0],
        "warm_s": times[1:],
        "peak_mib": peak_kib / 1024,
        # Without a resettable mark, an earlier, higher peak hides a smaller one: the value is a bound.
        "peak_is_upper_bound": not resettable and high_before - before >= peak_kib,
    }


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(match[1])


def _rss_kib() -> int:
    return _status_kib("VmRSS")


def _reset_peak() -> bool:
    """Reset the process's peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_kib(resettable: bool) -> int:
    return _status_kib("VmHWM") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def profile_child(path: str, repeats: int = 3) -> dict[str, Any]:
    """Where the pipeline's preparation spends its time (cProfile of the real function, warm)."""
    prepare = _pipeline_prepare()
    data = Path(path).read_bytes()
    prepare(data)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        prepare(data)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = 0.0
    parts: dict[str, float] = {}
    # (module, function) -> step; cProfile's cumulative time counts every call site once.
    wanted = {
        ("prepare", "_identify"): "open (header only)",
        ("metadata", "read_metadata"): "EXIF",
        ("prepare", "_load"): "decode (draft-scaled)",
        ("pixels", "normalise_mode"): "mode conversion / flatten",
        ("renditions", "fit"): "LANCZOS resizes (both)",
        ("renditions", "_enlarged"): "LANCZOS resizes (both)",
        ("renditions", "_padded"): "padding",
        ("metadata", "orient"): "orientation",
        ("pixels", "to_srgb"): "colour management",
        ("renditions", "_try_jpeg"): "JPEG encodes (both)",
    }
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        cumulative = row[3]
        source = Path(filename)
        if source.parent.name != "imaging":  # image_analysis/imaging/
            continue
        if (source.stem, function) == ("prepare", "prepare"):
            total = cumulative
        elif (source.stem, function) in wanted:
            step = wanted[(source.stem, function)]
            parts[step] = parts.get(step, 0.0) + cumulative
    from PIL import Image

    full = []
    for _ in range(repeats):
        start = time.perf_counter()
        Image.open(io.BytesIO(data)).load()
        full.append(time.perf_counter() - start)
    return {
        "total_s": total / repeats,
        "parts_s": {k: v / repeats for k, v in parts.items()},
        "full_decode_s": sum(full) / repeats,
        "repeats": repeats,
    }


# --------------------------------------------------------------------------- the benchmark


def run(options: Options) -> dict[str, Any]:
    rounds = options.pick(5, 2)
    iterations = options.pick(3, 2)  # per interpreter: the first (peak memory) + warm runs
    tiny_iterations = options.pick(30, 6)

    def measure_cases(group: tuple[tuple[str, tuple[int, int], str], ...]) -> dict[str, Any]:
        cases: dict[str, Any] = {}
        for label, size, fmt in group:
            path = image_file(label, size, fmt)
            count = tiny_iterations if size[0] * size[1] < TINY_PIXELS else iterations
            common.log(f"prep: {label} ({path.stat().st_size / 1e6:.1f} MB)")

            def measure(contender: str, path: Path = path, count: int = count) -> Any:
                return lambda _round: common.run_child(["prep", contender, str(path), str(count)])

            samples = interleaved({name: measure(name) for name in CONTENDERS}, rounds)
            cases[label] = {
                "size": list(size),
                "format": fmt,
                "bytes": path.stat().st_size,
                "iterations": count,
                "samples": samples,
            }
        return cases

    cases = measure_cases(CASES)
    small_cases = measure_cases(SMALL_CASES)
    common.log("prep: profiling the pipeline at 24 MP")
    target_path = image_file(TARGET_CASE, *next((s, f) for label, s, f in CASES if label == TARGET_CASE))
    profile = common.run_child(["prep-profile", str(target_path)])
    tiny = [(label, case) for label, case in small_cases.items() if case["iterations"] != iterations]
    small_profiles = {}
    for label, case in tiny:
        common.log(f"prep: profiling the pipeline at {label}")
        path = image_file(label, tuple(case["size"]), case["format"])
        small_profiles[label] = common.run_child(["prep-profile", str(path), str(TINY_PROFILE_REPEATS)])
    from image_analysis.settings import Settings

    return {
        "rounds": rounds,
        "iterations": iterations,
        "rekognition_max_edge": Settings(results_table="bench", enable_embeddings=False).rekognition_max_edge,
        "cases": cases,
        "small_cases": small_cases,
        "profile": profile,
        "small_profiles": small_profiles,
    }


def summarise(result: dict[str, Any], group: str = "cases") -> dict[str, dict[str, Any]]:
    """Per case and contender: median warm time, throughput, peak RSS increase; plus the ratios."""
    table: dict[str, dict[str, Any]] = {}
    for label, case in result[group].items():
        row: dict[str, Any] = {}
        for name in CONTENDERS:
            runs = case["samples"][name]
            warm = [t for run in runs for t in run["warm_s"]] or [run["first_s"] for run in runs]
            row[name] = {
                "time_s": median(warm),
                "throughput": ratio(1.0, median(warm)),
                "peak_mib": median([run["peak_mib"] for run in runs]),
                "n": len(warm),
                "bound": any(run["peak_is_upper_bound"] for run in runs),
            }
        row["speedup"] = ratio(row["pipeline"]["throughput"], row["naive"]["throughput"])
        row["memory"] = ratio(row["pipeline"]["peak_mib"], row["naive"]["peak_mib"])
        table[label] = row
    return table


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    row = summarise(result)[TARGET_CASE]
    return [
        {
            "benchmark": TITLE,
            "target": f"throughput at 24 MP ≥ {TARGET_SPEEDUP}× the naive baseline's",
            "measured": f"{row['speedup']:.2f}×",
            "verdict": verdict(row["speedup"], TARGET_SPEEDUP, higher_is_better=True),
        },
        {
            "benchmark": TITLE,
            "target": f"peak memory at 24 MP ≤ {TARGET_MEMORY}× the naive baseline's",
            "measured": f"{row['memory']:.2f}×",
            "verdict": verdict(row["memory"], TARGET_MEMORY, higher_is_better=False),
        },
    ]


def section(result: dict[str, Any]) -> str:
    table = summarise(result)
    lines = [
        f"## 1. {TITLE}",
        "",
        "`imaging.prepare` (the pipeline: one decode, JPEG draft decoding at a reduced DCT scale, then",
        "**two** renditions: one for Rekognition, capped at 2048 px, and one for Bedrock, 1024 px; their",
        "sizes are in the table)",
        "against the naive baseline the issue defines (full decode, `convert('RGB')`,",
        "`thumbnail((1024, 1024), LANCZOS)`, `save(JPEG, quality=85, optimize=True)`: **one** rendition).",
        "Test pictures are generated (gradients, shapes and film grain; about 0.43 bytes per pixel as",
        "quality-92 JPEGs, like a camera's); the PNG is an RGBA picture with a soft transparent border.",
        "",
        f"Each measurement is a fresh interpreter; {result['rounds']} interleaved rounds per case, "
        f"{result['iterations']} preparations",
        f"per interpreter{_more_iterations(result)}.",
        "*Peak RSS increase* is the process's peak resident memory during the first preparation minus",
        "its resident memory just before (Pillow allocates outside Python's allocator, so `tracemalloc`",
        "would miss it). Throughput is from the later (warm) preparations.",
        "",
        "| picture | file | pipeline renditions | pipeline img/s | naive img/s | **throughput ratio** "
        "| pipeline peak RSS +MiB | naive peak RSS +MiB | **memory ratio** |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in table.items():
        case = result["cases"][label]
        w, h = case["size"]
        p, n = row["pipeline"], row["naive"]
        bound = " (≤)" if p["bound"] or n["bound"] else ""
        renditions = " / ".join(
            "×".join(map(str, size)) for size in case["samples"]["pipeline"][0]["renditions"]
        )
        lines.append(
            f"| {label} ({w}×{h}) | {case['bytes'] / 1e6:.1f} MB | {renditions} | {p['throughput']:.2f} | "
            f"{n['throughput']:.2f} | **{row['speedup']:.2f}×** | {p['peak_mib']:.0f} | "
            f"{n['peak_mib']:.0f}{bound} | **{row['memory']:.2f}×** |"
        )
    target = table[TARGET_CASE]
    lines += [
        "",
        "Ratios are pipeline ÷ naive: above 1 is faster for throughput, below 1 is leaner for memory.",
        "*Pipeline renditions* are Rekognition's / Bedrock's; the baseline makes one of at most 1024 px.",
        "",
        f"**Target at 24 MP:** throughput ≥ {TARGET_SPEEDUP}× — measured {target['speedup']:.2f}× "
        f"({verdict(target['speedup'], TARGET_SPEEDUP, True)}); peak memory ≤ {TARGET_MEMORY}× — "
        f"measured {target['memory']:.2f}× ({verdict(target['memory'], TARGET_MEMORY, False)}).",
        "",
    ]
    png = next((row for label, row in table.items() if "PNG" in label), None)
    if png is not None and (png["speedup"] < 1 or png["memory"] > 1):
        lines += [
            f"The RGBA PNG is the exception ({png['speedup']:.2f}× the throughput, {png['memory']:.2f}× the",
            "memory): PNG has no reduced-scale decoding, and the pipeline composites the transparency onto",
            "white (an RGBA copy plus an RGB canvas at full size) where the baseline's `convert('RGB')`",
            "simply drops the alpha channel, leaving whatever colours the transparent pixels happen to hold.",
            "",
        ]
    lines += _small_lines(result)
    lines += _profile_lines(result, target)
    lines += ["", f"![Image preparation: throughput and peak memory, pipeline vs naive](img/{PLOT})", ""]
    return "\n".join(lines)


def _more_iterations(result: dict[str, Any]) -> str:
    more = [
        f"{case['iterations']} for the {label.split(' ')[0]} picture"
        for label, case in result["small_cases"].items()
        if case["iterations"] != result["iterations"]
    ]
    return f" ({', '.join(more)}, whose preparation takes about a millisecond)" if more else ""


def _size(width: int, height: int, data_bytes: int | None = None) -> str:
    return f"{width}×{height}" + (f", {data_bytes / 1000:.1f} kB" if data_bytes is not None else "")


def _small_lines(result: dict[str, Any]) -> list[str]:
    """Small and thin pictures: the ratios, and the renditions the pipeline sends for them."""
    table = summarise(result, "small_cases")
    lines = [
        "### Small and thin pictures",
        "",
        "Measured in the same run, the same way. Rekognition refuses a side under 80 px: the pipeline",
        "enlarges a smaller picture just enough for it, pads one too thin to enlarge within 2048 px (a",
        "panorama) with white, and sends Bedrock the picture at its own size when that is under 1024 px.",
        "The rendition columns are the JPEGs `prepare` produced in these runs (the bytes sent).",
        "",
        "| picture | file | pipeline img/s | naive img/s | **throughput ratio** | peak RSS +MiB "
        "(pipeline / naive) | **Rekognition rendition** | **Bedrock rendition** | naive output |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    notes: list[str] = []
    for label, row in table.items():
        case = result["cases" if label in result["cases"] else "small_cases"][label]
        w, h = case["size"]
        first = case["samples"]["pipeline"][0]
        (rw, rh, rb), (bw, bh, bb) = first["produced"]
        padded = first["padded"][0]
        (nw, nh, nb) = case["samples"]["naive"][0]["produced"][0]
        p, n = row["pipeline"], row["naive"]
        rekognition = _size(rw, rh, rb) + (" (padded)" if padded else "")
        lines.append(
            f"| {label} | {case['bytes'] / 1000:,.1f} kB | {p['throughput']:.2f} | {n['throughput']:.2f} | "
            f"**{row['speedup']:.2f}×** | {p['peak_mib']:.0f} / {n['peak_mib']:.0f} | {rekognition} | "
            f"{_size(bw, bh, bb)} | {_size(nw, nh, nb)} |"
        )
        profile = result["small_profiles"].get(label)
        if row["speedup"] < 1 and profile and profile["total_s"]:
            steps = sorted(profile["parts_s"].items(), key=lambda kv: -kv[1])[:3]
            shares = ", ".join(
                f"{step} {seconds / profile['total_s'] * 100:.0f} %" for step, seconds in steps
            )
            notes.append(
                f"* **{w}×{h}, time:** the pipeline's throughput is {row['speedup']:.2f}× the baseline's "
                "(which decodes and encodes once, and does not enlarge). Where the pipeline's time goes "
                f"(cProfile of `prepare`, warm, mean of {profile['repeats']}): {shares}."
            )
        if rw * rh > w * h:
            cap = result["rekognition_max_edge"]
            cw, ch = _fitted_to(w, h, cap)
            notes.append(
                f"* **{w}×{h} ({w * h:,} px):** Rekognition's rendition is {rw}×{rh} ({rw * rh:,} px, "
                f"{ratio(rw * rh, w * h):.2f}× the picture's pixels, {rb / 1000:.1f} kB): enlarged until the "
                f"short side reaches 80 px, not to the {cap} px cap ({cw}×{ch}, "
                f"{cw * ch / 1e6:.1f} MP, would be {ratio(cw * ch, rw * rh):.0f}× as many pixels; "
                f"arithmetic). Bedrock's is {_size(bw, bh, bb)}: the picture at its own size."
            )
        elif padded:
            left, top, right, bottom = padded
            notes.append(
                f"* **{w}×{h}:** fitted to {right - left}×{bottom - top} and padded with white to {rw}×{rh} "
                f"for Rekognition ({rb / 1000:.1f} kB; boxes found on it are mapped back onto the picture); "
                f"Bedrock's is {bw}×{bh} ({bb / 1000:.1f} kB)."
            )
        else:
            notes.append(
                f"* **{w}×{h}:** scaled to {ratio(rw, w) * 100:.0f} % for Rekognition ({_size(rw, rh, rb)}) "
                f"and {ratio(bw, w) * 100:.0f} % for Bedrock ({_size(bw, bh, bb)}): the long side sets the "
                "scale, so the text in a long screenshot shrinks by as much."
            )
    return [*lines, "", *notes, ""]


def _fitted_to(width: int, height: int, max_edge: int) -> tuple[int, int]:
    scale = max_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _profile_lines(result: dict[str, Any], target: dict[str, Any]) -> list[str]:
    profile = result.get("profile") or {}
    parts = profile.get("parts_s") or {}
    total = profile.get("total_s") or 0.0
    if not parts or not total:
        return []
    lines = [
        "Where the pipeline's time goes at 24 MP (cProfile of `prepare`, warm, mean of 3; the profiler",
        "adds a little overhead of its own):",
        "",
        "| step | ms | share |",
        "|---|---:|---:|",
    ]
    for step, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {step} | {seconds * 1000:.0f} | {seconds / total * 100:.0f} % |")
    lines.append(f"| **all of `prepare`** | **{total * 1000:.0f}** | 100 % |")
    lines.append("")
    decode = parts.get("decode (draft-scaled)", 0.0)
    resize = parts.get("LANCZOS resizes (both)", 0.0)
    full = profile.get("full_decode_s") or 0.0
    if target["speedup"] < TARGET_SPEEDUP:
        lines += [
            f"**Why the throughput target is missed:** decoding is {decode / total * 100:.0f} % of the",
            f"pipeline's time and the LANCZOS resizes {resize / total * 100:.0f} %. The draft decode took",
            f"{decode * 1000:.0f} ms against {full * 1000:.0f} ms for a full decode of the same file "
            f"({ratio(decode, full) * 100:.0f} %), though it produces a fraction of the pixels:",
            "libjpeg's DCT scaling saves the inverse DCT and colour conversion of the skipped pixels but",
            "still entropy-decodes every coefficient, which dominates in detailed, grainy pictures. The",
            "baseline's `thumbnail` also shrinks with a cheap `reduce()` first, and encodes one rendition",
            "where the pipeline encodes two. See *What would change* at the end of this page.",
        ]
    return lines


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    table = {**summarise(result), **summarise(result, "small_cases")}
    labels = list(table)
    small = set(result["small_cases"])
    x = list(range(len(labels)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    panels = (
        (left, "speedup", "throughput: pipeline ÷ naive (higher is better)", TARGET_SPEEDUP, "≥"),
        (right, "memory", "peak RSS increase: pipeline ÷ naive (lower is better)", TARGET_MEMORY, "≤"),
    )
    for axis, field, title, target, sign in panels:
        measured = [table[k][field] for k in labels]
        values = [v if math.isfinite(v) else 0.0 for v in measured]  # no ratio where naive's is 0 MiB
        colours = ["#1f77b4" if k == TARGET_CASE else "#fdae6b" if k in small else "#9ecae1" for k in labels]
        axis.bar(x, values, 0.6, color=colours)
        for i, (value, shown) in enumerate(zip(values, measured, strict=True)):
            text = f"{shown:.2f}×" if math.isfinite(shown) else "n/a"
            axis.annotate(text, (i, value), ha="center", va="bottom", fontsize=8)
        axis.axhline(1.0, color="#555555", linewidth=0.8)
        target_x = labels.index(TARGET_CASE)
        axis.hlines(target, target_x - 0.4, target_x + 0.4, colors="red", linestyles="dashed")
        axis.annotate(
            f"target {sign} {target}×",
            (target_x, target),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            va="bottom",
            fontsize=8,
            color="red",
        )
        axis.set_title(title, fontsize=10)
        axis.set_xticks(x, [_tick(k) for k in labels], fontsize=7)
        axis.set_ylim(0, max([*values, target]) * 1.2)
        axis.grid(axis="y", alpha=0.3)
    fig.suptitle(
        "Image preparation: the pipeline (2 renditions) vs the naive baseline (1 rendition), "
        "ratios of medians (orange: small and thin pictures)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _tick(label: str) -> str:
    """A case's label on two or three lines: the size first where it leads."""
    if "×" in label.split(" ")[0]:
        return label.replace(" ", "\n")
    return label.replace(" (", "\n(", 1)
