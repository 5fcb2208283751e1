"""What every benchmark shares: the machine, interleaved measurement, test images, emulated services.

Other processes may be running on the machine, so no number here is an absolute claim: contenders
are measured in one run, interleaved (A, B, A, B, ... with the order flipped every round so neither
always goes first), and compared as the ratio of their medians.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imgpipe.local.environment import OFFLINE_AWS_ENV

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"  # generated test images, raw results (not committed)
RESULTS = CACHE / "results"
DOCS = ROOT / "docs"
IMAGES = DOCS / "img"
PAGE = DOCS / "benchmarks.md"

# Latencies the issue sets for the AI services test double (seconds, no jitter).
LATENCY_BEDROCK_S = 1.5
LATENCY_REKOGNITION_S = 0.3
LATENCY_EMBEDDING_S = 0.3  # Titan Multimodal Embeddings answers in a few hundred milliseconds

FAKE_AWS_ENV = {**OFFLINE_AWS_ENV, "POWERTOOLS_LOG_LEVEL": "WARNING"}


@dataclass(frozen=True)
class Options:
    quick: bool = False

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


# --------------------------------------------------------------------------- the machine


def machine() -> dict[str, Any]:
    """What the numbers were measured on (recorded with every result)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    from PIL import __version__ as pillow_version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "pillow": pillow_version,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------- measuring


def interleaved(
    contenders: Mapping[str, Callable[[int], Any]], rounds: int, progress: Callable[[str], None] | None = None
) -> dict[str, list[Any]]:
    """Call every contender once per round, alternating the order each round; samples per contender."""
    names = list(contenders)
    samples: dict[str, list[Any]] = {name: [] for name in names}
    for round_number in range(rounds):
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            if progress:
                progress(f"round {round_number + 1}/{rounds}: {name}")
            samples[name].append(contenders[name](round_number))
    return samples


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    """'met' or 'missed by N %' (how far the value is from the target, relative to the target)."""
    met = value >= target if higher_is_better else value <= target
    if met:
        return "met"
    miss = abs(value - target) / target * 100
    return f"missed by {miss:.1f} %" if miss < 10 else f"missed by {miss:.0f} %"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- results on disk


def save_result(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))


def load_result(name: str) -> dict[str, Any] | None:
    try:
        loaded = json.loads((RESULTS / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


# --------------------------------------------------------------------------- test images


def photo(size: tuple[int, int], seed: int = 0, tint: tuple[int, int, int] | None = None) -> Any:
    """A photo-like picture: colour gradients, shapes and film-grain noise (about 0.43 bytes per pixel
    as a quality-92 JPEG, like a camera's). `tint` pulls the whole picture towards a colour."""
    from PIL import Image, ImageDraw

    w, h = size
    across = Image.linear_gradient("L").resize((w, h))
    down = Image.linear_gradient("L").rotate(90).resize((w, h))
    base = Image.merge("RGB", (across, down, Image.new("L", size, 120 + seed * 7 % 100)))
    draw = ImageDraw.Draw(base)
    for i in range(12):
        x, y = (seed * 97 + i * 613) % w, (seed * 53 + i * 389) % h
        r = (i + 3) * min(w, h) // 40
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(i * 40 % 256, (i * 90 + seed) % 256, i * 20 % 256))
    grain = Image.effect_noise(size, 48).convert("RGB")
    picture = Image.blend(base, grain, 0.25)
    if tint is not None:
        picture = Image.blend(picture, Image.new("RGB", size, tint), 0.8)
    return picture


def encode(image: Any, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo_jpeg(size: tuple[int, int], seed: int = 0, tint: tuple[int, int, int] | None = None) -> bytes:
    return encode(photo(size, seed, tint), "JPEG", quality=92)


def cached_image(name: str, make: Callable[[], bytes]) -> Path:
    """Generated once per checkout (a 48 MP picture takes seconds to make) under .cache/bench/images."""
    path = CACHE / "images" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(make())
        partial.rename(path)
    return path


def camera_jpeg(size: tuple[int, int]) -> Path:
    """A photo-like JPEG of the given size, generated once and kept under .cache/bench/images."""
    w, h = size
    return cached_image(f"photo-{w}x{h}.jpg", lambda: photo_jpeg(size, seed=w % 97))


def exif_camera_jpeg(size: tuple[int, int]) -> Path:
    """A photo-like JPEG that kept a camera's EXIF (make, model, times, exposure; orientation 1, no
    GPS): what a resized export or a thumbnail looks like. Generated once, under .cache/bench/images."""
    w, h = size
    return cached_image(f"photo-{w}x{h}-exif.jpg", lambda: _exif_jpeg(size))


def _exif_jpeg(size: tuple[int, int]) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS R6"  # Model
    exif[0x0112] = 1  # Orientation: upright
    exif[0x0131] = "Firmware Version 1.8.1"  # Software
    exif[0x0132] = "2026:05:17 10:42:03"  # DateTime
    taken = exif.get_ifd(0x8769)  # the Exif sub-IFD
    taken[0x9003] = "2026:05:17 10:42:03"  # DateTimeOriginal
    taken[0x829A] = 1 / 250  # ExposureTime
    taken[0x829D] = 5.6  # FNumber
    taken[0x8827] = 200  # ISOSpeedRatings
    taken[0x920A] = 35.0  # FocalLength
    return encode(photo(size, seed=size[0] % 97), "JPEG", quality=92, exif=exif.tobytes())


def screenshot_png(size: tuple[int, int]) -> Path:
    """A long scrolling screenshot as an RGB PNG (a phone's width: flat colours, text, a few photos).
    Generated once, under .cache/bench/images."""
    w, h = size
    return cached_image(f"screenshot-{w}x{h}.png", lambda: encode(_screenshot(size), "PNG"))


def _screenshot(size: tuple[int, int]) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    margin = w // 24
    canvas = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    text_px = max(12, w // 34)
    font = ImageFont.load_default(size=text_px)
    bold = ImageFont.load_default(size=max(14, w // 28))
    words = ["the", "of", "harbour", "light", "morning", "ferry", "street", "market", "old", "town"]
    words += ["bridge", "view", "walk", "north"]
    draw.rectangle((0, 0, w, w // 10), fill=(246, 246, 248))
    y, post = w // 10 + margin, 0
    while y < h:
        avatar = w // 12
        colour = ((post * 67) % 200 + 30, (post * 131) % 200 + 30, (post * 29) % 200 + 30)
        draw.ellipse((margin, y, margin + avatar, y + avatar), fill=colour)
        draw.text((2 * margin + avatar, y + avatar // 4), f"user_{post:03d}", fill=(20, 20, 20), font=bold)
        y += avatar + margin // 2
        for line in range(3 + post % 4):
            text = " ".join(words[(post * 7 + line * 3 + i) % len(words)] for i in range(9))
            draw.text((margin, y), text, fill=(40, 40, 40), font=font)
            y += text_px * 3 // 2
        if post % 3 == 0 and y + w // 2 < h:
            picture = photo((w - 2 * margin, w // 2), seed=post)
            canvas.paste(picture, (margin, y + margin // 2))
            y += w // 2 + margin
        y += margin // 2
        draw.line((0, y, w, y), fill=(225, 225, 230), width=2)
        y += margin
        post += 1
    return canvas


def limits(settings: Any) -> Any:
    """The preparation limits the pipeline derives from its settings."""
    from image_analysis.result import limits_of

    return limits_of(settings)


def distinct(jpeg: bytes, tag: str) -> bytes:
    """The same picture with different bytes (a JPEG comment segment after SOI): a new SHA-256, so the
    pipeline's content cache cannot answer for it, at no cost in encoding time."""
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    payload = f"imgpipe-bench {tag}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


# --------------------------------------------------------------------------- emulated services


def clean_environ() -> dict[str, str]:
    """os.environ without anything that would send a client elsewhere (endpoints, profiles)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE"))}
    env.update(FAKE_AWS_ENV)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Replace os.environ for a block (boto3 reads endpoints and credentials from it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class ServerProcess:
    """A server in its own process that prints its URL as the first line of stdout."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None, timeout_s: float = 60) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own modules with our own interpreter
            [sys.executable, *argv],
            cwd=ROOT,
            env=dict(env or clean_environ()),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout_s)
        if not line or not line[0].startswith("http"):
            self.stop()
            raise RuntimeError(f"{' '.join(argv)} did not print its URL within {timeout_s:.0f} s")
        self.url = line[0].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class DoubleControl:
    """The AI services test double's control API (imgpipe/simulated/ai_services.py) over HTTP."""

    def __init__(self, url: str, pid: int | None = None) -> None:
        self.url = url
        self.pid = pid  # of the double's process, to account for its CPU time

    def _request(self, method: str, action: str, payload: Any = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}/_double/{action}", data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return json.loads(response.read())

    def calls(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "calls"))

    def reset(self) -> None:
        self._request("POST", "reset", {})

    def configure(self, **changes: Any) -> dict[str, Any]:
        return dict(self._request("POST", "config", changes))

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.url,
            "AWS_ENDPOINT_URL_REKOGNITION": self.url,
            "AWS_ENDPOINT_URL_COMPREHEND": self.url,
        }


@contextmanager
def ai_double(
    latency_bedrock: float = 0.0, latency_rekognition: float = 0.0, latency_embedding: float = 0.0
) -> Iterator[DoubleControl]:
    """The wire-level Bedrock/Rekognition test double in its own process (as the real services are
    elsewhere: its image decoding must not compete with the measured process for the GIL)."""
    server = ServerProcess(
        [
            "-m",
            "imgpipe.simulated.ai_services",
            "--latency-bedrock",
            str(latency_bedrock),
            "--latency-rekognition",
            str(latency_rekognition),
            "--latency-embedding",
            str(latency_embedding),
        ]
    )
    try:
        yield DoubleControl(server.url, server.process.pid)
    finally:
        server.stop()


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3, SQS and DynamoDB in their own process (the emulator `imgpipe local` uses)."""
    server = ServerProcess(["-m", "imgpipe.local.emulator"])
    try:
        yield server.url
    finally:
        server.stop()


@dataclass(frozen=True)
class VectorIndexAt:
    url: str
    bucket: str
    index: str


@contextmanager
def vector_index(dimension: int = 1024) -> Iterator[VectorIndexAt]:
    """imgpipe's local S3 Vectors in its own process, with one bucket and the function's index."""
    import boto3
    from image_analysis.domain import vectors as design

    server = ServerProcess(["-m", "imgpipe.local.vectors"])
    try:
        client = boto3.client(
            "s3vectors", endpoint_url=server.url, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - loopback only
        )  # fmt: skip
        at = VectorIndexAt(server.url, "imgpipe-bench-vectors", design.INDEX_NAME)
        client.create_vector_bucket(vectorBucketName=at.bucket)
        client.create_index(
            vectorBucketName=at.bucket,
            indexName=at.index,
            dataType=design.DATA_TYPE,
            dimension=dimension,
            distanceMetric=design.DISTANCE_METRIC,
            metadataConfiguration={"nonFilterableMetadataKeys": list(design.NON_FILTERABLE_METADATA)},
        )
        yield at
    finally:
        server.stop()


def service_env(moto_url: str, double: DoubleControl, vectors: VectorIndexAt | None = None) -> dict[str, str]:
    """The environment that points boto3 at moto (S3, SQS, DynamoDB), the double (AI services) and the
    local S3 Vectors."""
    env = {**clean_environ(), "AWS_ENDPOINT_URL": moto_url, **double.env()}
    if vectors is not None:
        env["AWS_ENDPOINT_URL_S3VECTORS"] = vectors.url
    return env


def cpu_seconds(pids: Sequence[int | None]) -> float:
    """User + system CPU time used so far by these processes (Linux /proc; 0 where unreadable)."""
    ticks = 0
    for pid in pids:
        if pid is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_child(args: list[str], env: Mapping[str, str] | None = None, timeout_s: float = 900) -> Any:
    """`python -m bench._child ARGS` in a fresh interpreter; returns the JSON on its last stdout line."""
    done = subprocess.run(  # noqa: S603 - our own module with our own interpreter
        [sys.executable, "-m", "bench._child", *args],
        cwd=ROOT,
        env=dict(env or clean_environ()),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench._child {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- a bucket and table on moto


@dataclass
class Store:
    """A versioned bucket and a results table on moto, and uploads that return the S3 event."""

    s3: Any
    bucket: str
    table: str

    @classmethod
    def create(cls, name: str) -> Store:
        import boto3
        from image_analysis.domain.table import create_table_request

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb").create_table(**create_table_request(name))
        return cls(s3=s3, bucket=name, table=name)

    def upload(self, key: str, data: bytes) -> Any:
        from image_analysis.domain.intake import CREATED, S3Event

        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return S3Event(CREATED, self.bucket, key, put.get("VersionId"), put["ETag"].strip('"'), len(data))
