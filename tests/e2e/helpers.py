"""Helpers for the end-to-end suite: distinguishable test images, running the CLI, reading the double.

Every image made here has its own 8x8 pattern of cells, so the double's fingerprint (an 8x8 average
hash, see imgpipe/simulated/ai_answers.py) of any two of them differs in about half of its 64 bits: an
answer (or a call in the double's log) can be traced back to exactly one upload.
"""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from imgpipe.simulated import ai_answers
from tests.support import PROJECT_ROOT, describe, run_cli  # noqa: F401 - re-exported for the e2e tests

# Two tones per hue: far enough apart in brightness for the hash, both nearest to the named colour.
TONES = {
    "Red": ((170, 20, 20), (250, 70, 70)),
    "Blue": ((20, 30, 170), (80, 110, 250)),
    "Green": ((20, 110, 20), (70, 200, 70)),
}
CELLS = 8
# The AI calls an analysable image makes with the defaults, each exactly once (Comprehend aside: the
# pictures here show too little text for it).
AI_OPERATIONS = (
    "Converse", "DetectLabels", "DetectText", "DetectModerationLabels", "DetectFaces", "InvokeModel",
)  # fmt: skip


def pattern(seed: int, colour: str = "Blue", size: tuple[int, int] = (320, 240)) -> Image.Image:
    """An RGB image of 8x8 cells, each one of the colour's two tones, chosen by `seed`."""
    dark, light = TONES[colour]
    rng = random.Random(seed)
    bits = [rng.random() < 0.5 for _ in range(CELLS * CELLS)]
    bits[0], bits[1] = True, False  # never all one tone: the hash needs structure
    image = Image.new("RGB", size, dark)
    draw = ImageDraw.Draw(image)
    cell_w, cell_h = size[0] // CELLS, size[1] // CELLS
    for index, bright in enumerate(bits):
        if bright:
            x, y = (index % CELLS) * cell_w, (index // CELLS) * cell_h
            draw.rectangle((x, y, x + cell_w - 1, y + cell_h - 1), fill=light)
    return image


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    params: dict[str, Any] = {}
    if fmt == "JPEG":
        params["quality"] = 92
    if fmt == "WEBP":
        params["lossless"] = True
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
        params["quality"] = 90
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_with_alpha(seed: int, colour: str = "Green") -> bytes:
    """RGBA PNG: the pattern's bright cells are fully transparent (white once flattened)."""
    base = pattern(seed, colour)
    dark, light = (Image.new("RGB", (1, 1), tone).convert("L").getpixel((0, 0)) for tone in TONES[colour])
    threshold = (float(dark) + float(light)) / 2  # type: ignore[arg-type]
    alpha = base.convert("L").point(lambda v: 255 if v < threshold else 0)
    rgba = base.convert("RGBA")
    rgba.putalpha(alpha)
    return encode(rgba, "PNG")


def image(seed: int, fmt: str = "JPEG", colour: str = "Blue") -> bytes:
    """A distinguishable image in a format Pillow writes (JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIF)."""
    picture = pattern(seed, colour)
    if fmt == "GIF":
        return encode(picture.quantize(colors=4), "GIF")
    return encode(picture, fmt)


def closest_upload(fingerprint: str, uploads: dict[str, bytes]) -> str:
    """The upload (by key) whose fingerprint is nearest to `fingerprint`; asserts it is unambiguous."""
    distances = sorted(
        (ai_answers.hamming(fingerprint, ai_answers.fingerprint(data)), key) for key, data in uploads.items()
    )
    (best, key), *rest = distances
    assert ai_answers.fingerprints_match(fingerprint, ai_answers.fingerprint(uploads[key])), distances[:3]
    assert not rest or rest[0][0] > best + ai_answers.DEFAULT_MAX_DISTANCE, distances[:3]
    return key


def calls_for(calls: list[dict[str, Any]], operation: str, data: bytes) -> list[dict[str, Any]]:
    """The double's logged calls of `operation` whose image matches `data`'s fingerprint."""
    want = ai_answers.fingerprint(data)
    return [
        c
        for c in calls
        if c["operation"] == operation
        and any(
            i.get("fingerprint") and ai_answers.fingerprints_match(i["fingerprint"], want)
            for i in c["images"]
        )
    ]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process' environment (fake credentials, no endpoints: see tests/conftest.py) plus `extra`."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


def results_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def log_lines(folder: Path) -> list[dict[str, Any]]:
    """Every structured (JSON) line the workers logged; tracebacks and other text are skipped."""
    lines = []
    for log in sorted(folder.glob("worker-*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
    return lines
