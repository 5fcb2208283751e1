"""5. Cost per 1,000 images, from recorded usage and configured prices; what idempotency and the
moderation gate save.

MEASURED here: the usage the pipeline records per image (`ImageResult.cost`: Rekognition calls, Bedrock
input and output tokens, as the test double reports them with Claude's image-token rule, width × height
/ 750, plus text / 4), and the AI calls the double logs for each delivery. ASSUMED: the prices. The
default model's come from the pipeline's configuration defaults (settings.py, set per deployment in
cdk.json); the cheaper model's are in PRICE_TABLES below. Both are list prices (us-east-1, on-demand,
first Rekognition volume tier) that change: check the AWS pricing pages before relying on them.

Small, thin and large pictures (SHAPES) go through the same handler in the same run, outside the
mean: what each service received (the double logs every image's size and bytes), the tokens and the
recorded cost, beside a 12 MP photo's. A small picture is enlarged for Rekognition only as far as its
80 px minimum side, so it must cost no more Bedrock tokens than its own pixels.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from . import common
from .common import LATENCY_BEDROCK_S, LATENCY_REKOGNITION_S, Options, interleaved, median, ratio

NAME = "cost"
TITLE = "Cost per 1,000 images"
FLAGGED_SHARE = 0.05  # assumed share of images moderation flags, for the gate's saving
RED = (220, 20, 20)  # the double flags predominantly red pictures ("Graphic Violence")

# A mix of shapes: Bedrock's token count depends on the rendition's pixels (long edge 1024 px), so on
# the aspect ratio, not on the camera's resolution.
MIX: tuple[tuple[str, tuple[int, int]], ...] = (
    ("4:3 landscape", (2048, 1536)),
    ("3:4 portrait", (1536, 2048)),
    ("3:2 landscape", (2400, 1600)),
    ("16:9 landscape", (1920, 1080)),
    ("1:1 square", (1600, 1600)),
    ("4:3, 1 MP", (1152, 864)),
)
SERVICE_OF = {"Converse": "bedrock", "InvokeModel": "embedding"}  # anything else with an image: Rekognition
USAGE = ("rekognition_images", "input_tokens", "output_tokens", "comprehend_units", "embedded_images")
REFERENCE = "12 MP photo"  # what the small and thin pictures are compared with
TOKEN_PIXELS = 750  # Claude's image tokens: width × height / 750 (the double's rule)


def shapes() -> tuple[tuple[str, Path], ...]:
    """(label, file): the pictures generated for bench/prep.py, kept under .cache/bench/images."""
    return (
        (REFERENCE, common.camera_jpeg((4000, 3000))),
        ("small photo, with EXIF", common.exif_camera_jpeg((100, 68))),
        ("panorama", common.camera_jpeg((20000, 300))),
        ("long screenshot, PNG", common.screenshot_png((1170, 20000))),
    )


def price_tables() -> dict[str, dict[str, Any]]:
    """USD list prices (assumptions, see the module docstring); the default model's from configuration."""
    from image_analysis.settings import DEFAULT_MODEL_ID, defaults

    configured = defaults()
    others = {  # the same whatever the model: Comprehend and the embedding
        "comprehend_unit": configured["price_comprehend_unit_usd"],
        "embedding_image": configured["price_embedding_image_usd"],
    }
    return {
        "Claude Sonnet 4.5 (default model)": {
            "model_id": DEFAULT_MODEL_ID,
            "input_mtok": configured["price_bedrock_input_mtok_usd"],
            "output_mtok": configured["price_bedrock_output_mtok_usd"],
            "rekognition_image": configured["price_rekognition_image_usd"],
            **others,
        },
        "Claude Haiku 4.5": {
            "model_id": "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "input_mtok": 1.0,
            "output_mtok": 5.0,
            "rekognition_image": configured["price_rekognition_image_usd"],
            **others,
        },
    }


def run(options: Options) -> dict[str, Any]:
    with (
        common.moto_server() as moto_url,
        common.ai_double() as double,
        common.vector_index() as vectors,
        common.environ(common.service_env(moto_url, double, vectors)),
    ):
        return _measure(double, options, vectors)


def _calls(double: common.DoubleControl, since: int) -> tuple[Counter[str], int]:
    log = double.calls()
    return Counter(call["operation"] for call in log[since:]), len(log)


def _measure(double: common.DoubleControl, options: Options, vectors: common.VectorIndexAt) -> dict[str, Any]:
    from image_analysis.pipeline import handle_event
    from image_analysis.runtime import build_runtime
    from image_analysis.settings import Settings

    store = common.Store.create("imgpipe-bench-cost")
    runtime = build_runtime(
        Settings(results_table=store.table, vector_bucket=vectors.bucket, vector_index=vectors.index)
    )
    gated = replace(runtime, settings=replace(runtime.settings, skip_location_if_flagged=True))
    seen = 0
    images: list[dict[str, Any]] = []
    savings: dict[str, Any] = {}
    try:
        common.log("cost: recorded usage of a mix of pictures")
        events = []
        for number, (label, size) in enumerate(MIX):
            data = common.photo_jpeg(size, seed=number)
            event = store.upload(f"images/cost/{number}.jpg", data)
            outcome, result = handle_event(event, runtime)
            calls, seen = _calls(double, seen)
            if result is None or result.status != "complete":
                raise RuntimeError(f"{label}: {outcome}")
            images.append(
                {
                    "label": label,
                    "size": list(size),
                    "bedrock_rendition": _rendition(double),
                    "cost": asdict(result.cost),
                    "calls": dict(calls),
                }
            )
            events.append((event, data))

        common.log("cost: small, thin and large pictures: what each service receives")
        sent, seen = _shapes(double, store, runtime, seen)

        common.log("cost: duplicate deliveries and identical bytes under another key")
        duplicate_outcomes, reuse = [], []
        for number, (event, data) in enumerate(events):
            outcome, _ = handle_event(event, runtime)  # the same S3 event delivered again
            calls, seen = _calls(double, seen)
            duplicate_outcomes.append({"outcome": outcome, "calls": sum(calls.values())})
            again = store.upload(f"images/cost/copy-of-{number}.jpg", data)
            outcome, result = handle_event(again, runtime)
            calls, seen = _calls(double, seen)
            reuse.append(
                {
                    "reused_from": result.reused_from if result else None,
                    "calls": sum(calls.values()),
                    "usd": result.cost.estimated_usd if result else None,
                }
            )
        savings["duplicates"] = duplicate_outcomes
        savings["identical_bytes"] = reuse

        common.log("cost: the moderation gate")
        red = common.photo_jpeg((2048, 1536), seed=7, tint=RED)
        gate: dict[str, Any] = {}
        for name, rt in (("gate off", runtime), ("gate on", gated)):
            event = store.upload(f"images/cost/red-{name.replace(' ', '-')}.jpg", common.distinct(red, name))
            outcome, result = handle_event(event, rt)
            calls, seen = _calls(double, seen)
            if result is None:
                raise RuntimeError(f"red picture, {name}: {outcome}")
            gate[name] = {
                "flagged": result.flagged,
                "calls": dict(calls),
                "cost": asdict(result.cost),
                "location": result.analyses.outcomes["location"].status,
            }
        savings["gate"] = gate
        savings["gate_latency"] = _gate_latency(double, store, runtime, gated, options)
    finally:
        runtime.executor.shutdown(wait=True)
    return {"images": images, "shapes": sent, "savings": savings, "prices": price_tables()}


def _shapes(
    double: common.DoubleControl, store: common.Store, runtime: Any, seen: int
) -> tuple[list[dict[str, Any]], int]:
    """Every shape through the handler; the renditions the double received, the usage recorded."""
    from image_analysis.pipeline import handle_event
    from PIL import Image

    sent = []
    for number, (label, path) in enumerate(shapes()):
        data = path.read_bytes()
        with Image.open(path) as picture:
            size = list(picture.size)
        event = store.upload(f"images/cost/shape-{number}{path.suffix}", data)
        outcome, result = handle_event(event, runtime)
        log = double.calls()
        calls, seen = log[seen:], len(log)
        if result is None or result.status != "complete":
            raise RuntimeError(f"{label}: {outcome}")
        received: dict[str, list[list[int]]] = {"rekognition": [], "bedrock": [], "embedding": []}
        for call in calls:
            service = SERVICE_OF.get(call["operation"], "rekognition")
            received[service] += [[i["width"], i["height"], i["bytes"]] for i in call["images"]]
        sent.append(
            {
                "label": label,
                "size": size,
                "bytes": len(data),
                "received": received,  # [width, height, bytes] per image per call
                "cost": asdict(result.cost),
                "notes": list(result.notes),
            }
        )
    return sent, seen


def _rendition(double: common.DoubleControl) -> list[int] | None:
    """Size of the image in the last Converse call the double logged."""
    for call in reversed(double.calls()):
        if call["operation"] == "Converse" and call["images"]:
            return [call["images"][0]["width"], call["images"][0]["height"]]
    return None


def _gate_latency(
    double: common.DoubleControl, store: common.Store, runtime: Any, gated: Any, options: Options
) -> dict[str, list[float]]:
    """What the gate costs an image it does NOT flag: moderation must answer before Bedrock starts."""
    from image_analysis.pipeline import handle_event

    common.log("cost: the gate's latency for pictures it does not flag")
    double.configure(latency_bedrock=LATENCY_BEDROCK_S, latency_rekognition=LATENCY_REKOGNITION_S)
    base = common.photo_jpeg((1152, 864), seed=11)
    runtimes = {"gate off": runtime, "gate on": gated}

    def measure(name: str) -> Any:
        def once(round_number: int) -> float:
            tag = f"gate-latency-{name.replace(' ', '-')}-{round_number}-{time.time_ns()}"
            event = store.upload(f"images/cost/{tag}.jpg", common.distinct(base, tag))
            start = time.perf_counter()
            handle_event(event, runtimes[name])
            return time.perf_counter() - start

        return once

    try:
        return interleaved({name: measure(name) for name in runtimes}, options.pick(3, 1))
    finally:
        double.configure(latency_bedrock=0.0, latency_rekognition=0.0)


# --------------------------------------------------------------------------- reporting


def _usd(
    usage: dict[str, Any],
    prices: dict[str, Any],
    bedrock: bool = True,
    rekognition: bool = True,
    others: bool = True,
) -> float:
    usd = 0.0
    if rekognition:
        usd += usage["rekognition_images"] * prices["rekognition_image"]
    if bedrock:
        usd += usage["input_tokens"] / 1e6 * prices["input_mtok"]
        usd += usage["output_tokens"] / 1e6 * prices["output_mtok"]
    if others:  # Comprehend and the embedding (documents from before either say nothing of them)
        usd += usage.get("comprehend_units", 0) * prices.get("comprehend_unit", 0.0)
        usd += usage.get("embedded_images", 0) * prices.get("embedding_image", 0.0)
    return usd


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    usages = [image["cost"] for image in result["images"]]
    mean_usage = {k: sum(u.get(k, 0) for u in usages) / len(usages) for k in USAGE}
    per_model = {}
    for model, prices in result["prices"].items():
        per_model[model] = {
            "rekognition": 1000 * _usd(mean_usage, prices, bedrock=False, others=False),
            "bedrock": 1000 * _usd(mean_usage, prices, rekognition=False, others=False),
            "others": 1000 * _usd(mean_usage, prices, bedrock=False, rekognition=False),
            "total": 1000 * _usd(mean_usage, prices),
        }
    return {"mean_usage": mean_usage, "per_model": per_model}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    return []  # the issue asks for the numbers, not a target


def section(result: dict[str, Any]) -> str:
    summary = summarise(result)
    prices = result["prices"]
    default_model = next(iter(prices))
    lines = [
        f"## 5. {TITLE}",
        "",
        "**Measured:** the usage the pipeline records per image (`ImageResult.cost`) and the AI calls the",
        "test double logged. The double counts Bedrock tokens as Claude does for images (width × height",
        "/ 750 of the rendition sent) plus a quarter of a token per character of prompt and answer; its",
        "answers are not a real model's, so output tokens are indicative. **Assumed:** the prices — list",
        "prices (us-east-1, on demand, Rekognition's first volume tier), which change; the default model's",
        "are the pipeline's configured defaults (`PRICE_*` settings, set per deployment), the cheaper",
        "model's are in `bench/cost.py`. Usage does not depend on the model here; a real Haiku answer may",
        "differ by a few output tokens.",
        "",
        "| picture | Bedrock rendition | Rekognition calls | input tokens | output tokens "
        f"| embedded | recorded USD ({default_model.split(' (')[0]}) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for image in result["images"]:
        cost = image["cost"]
        rendition = "×".join(map(str, image["bedrock_rendition"] or [])) or "?"
        lines.append(
            f"| {image['label']} | {rendition} | {cost['rekognition_images']} | {cost['input_tokens']:,} "
            f"| {cost['output_tokens']:,} | {cost.get('embedded_images', 0)} | {cost['estimated_usd']:.6f} |"
        )
    mean = summary["mean_usage"]
    lines += [
        f"| **mean** | | {mean['rekognition_images']:.0f} | {mean['input_tokens']:,.0f} | "
        f"{mean['output_tokens']:,.0f} | {mean['embedded_images']:.0f} | |",
        "",
        "Per 1,000 images (mean usage above × price; *other* is Comprehend on the detected text and the",
        "image embedding):",
        "",
        "| model | input $/MTok | output $/MTok | Rekognition $/call | Rekognition | Bedrock | other "
        "| **total** |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, row in summary["per_model"].items():
        p = prices[model]
        lines.append(
            f"| {model} (`{p['model_id']}`) | {p['input_mtok']:.2f} | {p['output_mtok']:.2f} | "
            f"{p['rekognition_image']:.4f} | ${row['rekognition']:.2f} | ${row['bedrock']:.2f} | "
            f"${row['others']:.2f} | **${row['total']:.2f}** |"
        )
    cheap = summary["per_model"][list(summary["per_model"])[-1]]
    cut = 1 - ratio(cheap["total"], summary["per_model"][default_model]["total"])
    if cheap["rekognition"] > cheap["bedrock"]:
        larger = "the four Rekognition calls are then the larger part of the bill"
    else:
        larger = "Bedrock remains the larger part of the bill"
    lines += [
        "",
        f"The cheaper model cuts the total by {cut * 100:.0f} %; {larger}.",
        "",
    ]
    lines += _shape_lines(result, default_model)
    lines += ["### What idempotency and the moderation gate save", ""]
    lines += _savings_lines(result, summary, default_model)
    return "\n".join(lines)


def _shape_lines(result: dict[str, Any], model: str) -> list[str]:
    """Small and thin pictures beside a 12 MP photo: the renditions received, tokens and cost."""
    shown = result["shapes"]
    reference = next(s for s in shown if s["label"] == REFERENCE)
    lines = [
        "### Small and thin pictures beside a 12 MP photo",
        "",
        "The same handler, in the same run (not in the mean above). The renditions are what the double",
        "received (size and bytes of the image in every call; the three Rekognition calls get the same",
        f"one). *Image tokens* is Claude's rule applied to Bedrock's rendition (width × height / "
        f"{TOKEN_PIXELS}, rounded up); *input tokens* adds the prompt, as recorded.",
        "",
        "| picture | file | Rekognition received | Bedrock received | image tokens | input tokens "
        f"| recorded USD ({model.split(' (')[0]}) | input tokens ÷ {REFERENCE}'s | USD ÷ {REFERENCE}'s |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for shape in shown:
        w, h = shape["size"]
        cost = shape["cost"]
        rekognition = _received(shape["received"]["rekognition"])
        bedrock = _received(shape["received"]["bedrock"])
        tokens = _image_tokens(shape)
        against = ratio(cost["input_tokens"], reference["cost"]["input_tokens"])
        usd = ratio(cost["estimated_usd"], reference["cost"]["estimated_usd"])
        lines.append(
            f"| {shape['label']} ({w}×{h}) | {shape['bytes'] / 1000:,.1f} kB | {rekognition} | {bedrock} | "
            f"{tokens:,} | {cost['input_tokens']:,} | {cost['estimated_usd']:.6f} | {against:.2f}× | "
            f"{usd:.2f}× |"
        )
    small = min(shown, key=lambda s: s["size"][0] * s["size"][1])
    w, h = small["size"]
    rw, rh, _ = small["received"]["rekognition"][0]
    bw, bh, _ = small["received"]["bedrock"][0]
    usd, reference_usd = small["cost"]["estimated_usd"], reference["cost"]["estimated_usd"]
    per_image = _usd(small["cost"], result["prices"][model], bedrock=False)
    lines += [
        "",
        f"The {w}×{h} picture reached Rekognition as {rw}×{rh} ({ratio(rw * rh, w * h):.2f}× its pixels) "
        f"and Bedrock as {bw}×{bh}: {_image_tokens(small)} image tokens against "
        f"{_image_tokens(reference):,} for the {REFERENCE}'s rendition. Its bill is "
        f"{ratio(usd, reference_usd) * 100:.0f} % of the photo's: Rekognition charges per image, whatever "
        f"its size (${per_image:.4f} of its ${usd:.4f}), and neither the prompt nor the answer shrinks "
        "with the picture.",
        "",
    ]
    return lines


def _image_tokens(shape: dict[str, Any]) -> int:
    """Claude's image tokens for what Bedrock received: width × height / 750, rounded up, per image."""
    return sum(-(-w * h // TOKEN_PIXELS) for w, h, _ in shape["received"]["bedrock"])


def _received(images: list[list[int]]) -> str:
    """'W×H, N kB' for the image a service received (× calls when it was sent more than once)."""
    distinct = {tuple(image) for image in images}
    if not distinct:
        return "—"
    text = "; ".join(f"{w}×{h}, {b / 1000:.1f} kB" for w, h, b in sorted(distinct))
    return text + (f" (× {len(images)} calls)" if len(images) > 1 else "")


def _savings_lines(result: dict[str, Any], summary: dict[str, Any], model: str) -> list[str]:
    savings = result["savings"]
    prices = result["prices"][model]
    per_image = summary["per_model"][model]["total"] / 1000
    duplicates = savings["duplicates"]
    dup_calls = sum(d["calls"] for d in duplicates)
    reuse = savings["identical_bytes"]
    reuse_calls = sum(r["calls"] for r in reuse)
    reused = sum(1 for r in reuse if r["reused_from"])
    gate = savings["gate"]
    off, on = gate["gate off"], gate["gate on"]
    bedrock_saved = _usd(off["cost"], prices, rekognition=False)
    latency = savings["gate_latency"]
    gate_ratio = ratio(median(latency["gate on"]), median(latency["gate off"]))
    flagged_per_1000 = 1000 * FLAGGED_SHARE
    share_saved = ratio(bedrock_saved * flagged_per_1000, per_image * 1000)
    lines = [
        "| case | measured AI calls | saving per case | per 1,000 images |",
        "|---|---|---:|---|",
        f"| the same S3 event delivered twice ({len(duplicates)} pictures) "
        f"| second delivery: {dup_calls} calls (outcome `{duplicates[0]['outcome']}`) "
        f"| ${per_image:.4f} (all of it) | every duplicate delivery "
        "costs nothing |",
        f"| identical bytes under another key ({len(reuse)} pictures) | {reuse_calls} calls; {reused} of "
        f"{len(reuse)} reused an earlier analysis | ${per_image:.4f} (all of it) | every re-upload costs "
        "nothing |",
        f"| moderation gate (`SKIP_LOCATION_IF_FLAGGED=true`), a flagged picture | gate off: "
        f"{_call_text(off['calls'])}; gate on: {_call_text(on['calls'])} (location {on['location']}) "
        f"| ${bedrock_saved:.4f} (its Bedrock call) | ${bedrock_saved * flagged_per_1000:.2f} if "
        f"{FLAGGED_SHARE:.0%} are flagged (assumed share) |",
        "",
        "The gate is not free: for a picture it does not flag, Bedrock can start only after moderation has",
        "answered, so that image's latency becomes moderation + Bedrock instead of the slowest call.",
        f"Measured with the double's latencies ({len(latency['gate on'])} interleaved rounds, medians): gate "
        f"on {median(latency['gate on']):.2f} s vs gate off {median(latency['gate off']):.2f} s per image, "
        f"**{gate_ratio:.2f}×**. It pays when the flagged share is high or the model expensive; with",
        f"{FLAGGED_SHARE:.0%} flagged it saves {share_saved * 100:.1f} % of the bill.",
        "",
    ]
    flagged = off["flagged"] and on["flagged"]
    if not flagged:
        lines += [
            "**Note:** the red test picture was not flagged by the double in this run; the gate row is void.",
            "",
        ]
    return lines


def _call_text(calls: dict[str, int]) -> str:
    rekognition = sum(v for k, v in calls.items() if k != "Converse")
    return f"{rekognition} Rekognition + {calls.get('Converse', 0)} Bedrock"


def plot(result: dict[str, Any], path: Path) -> None:
    """No plot for this benchmark: the tables say it."""
