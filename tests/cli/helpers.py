"""The sample photo folder, and running the CLI in its own process for the operator-command tests."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.support import describe, run_cli

# Two close tones per colour: the double names the mean colour, and red this saturated is "violent"
# to its moderation (flagged). The cells make every picture's fingerprint (average hash) distinct.
TONES = {"Red": ((200, 15, 15), (240, 35, 35)), "Blue": ((15, 35, 200), (35, 55, 240))}


PHOTOS = {  # relative path -> (colour, seed, Pillow format)
    "red-1.jpg": ("Red", 1, "JPEG"),
    "red-2.png": ("Red", 2, "PNG"),
    "trip/red-3.webp": ("Red", 3, "WEBP"),
    "blue-1.jpg": ("Blue", 4, "JPEG"),
    "trip/day 2/blue+2.jpg": ("Blue", 5, "JPEG"),
    "same/a.jpg": ("Red", 6, "JPEG"),  # a.jpg and a.png side by side: results must not collide
    "same/a.png": ("Blue", 7, "PNG"),
}


NOT_IMAGES = {"notes.jpg": b"Shopping list: film, batteries\n", "readme.txt": b"not a picture\n"}


def picture(colour: str, seed: int, fmt: str = "JPEG", size: tuple[int, int] = (240, 180)) -> bytes:
    dark, light = TONES[colour]
    rng = random.Random(seed)
    image = Image.new("RGB", size, dark)
    draw = ImageDraw.Draw(image)
    cell_w, cell_h = size[0] // 8, size[1] // 8
    for index in range(64):
        if index == 0 or (index != 1 and rng.random() < 0.5):
            x, y = (index % 8) * cell_w, (index // 8) * cell_h
            draw.rectangle((x, y, x + cell_w - 1, y + cell_h - 1), fill=light)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buffer.getvalue()


def write_photos(folder: Path) -> dict[str, bytes]:
    """The sample folder; returns relative path -> bytes of each image."""
    images = {}
    for relative, (colour, seed, fmt) in PHOTOS.items():
        images[relative] = picture(colour, seed, fmt)
    for relative, data in {**images, **NOT_IMAGES}.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    return images


def keys_of(colour: str) -> set[str]:
    return {f"images/{relative}" for relative, (c, _, _) in PHOTOS.items() if c == colour}


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, describe(done)
    return done


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(done).stdout)


def cli_env(double: AiServicesDouble, **extra: str) -> dict[str, str]:
    """This process' environment (fake credentials: tests/conftest.py) plus the double's endpoints."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **double.env(), **extra}


def new_state_dir(synthesized: Path, path: Path) -> Path:
    shutil.copytree(synthesized, path / "cdk.out")
    return path


@dataclass(frozen=True)
class Uploaded:
    """A folder uploaded through `imgpipe upload --aws-ai` once per module, with its state dir."""

    photos: Path
    state: Path
    images: dict[str, bytes]  # relative path -> bytes
    output: str
    calls: list[dict[str, Any]]  # the double's log during the upload

    def copy(self, to: Path) -> Uploaded:
        """An independent copy (folder and state) for a test that changes either."""
        shutil.copytree(self.photos, to / "photos")
        shutil.copytree(self.state, to / "state")
        return Uploaded(to / "photos", to / "state", self.images, self.output, self.calls)


imgpipe = run_cli  # this suite's name for the shared CLI runner
