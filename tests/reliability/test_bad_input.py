"""A corpus of hostile and awkward inputs, uploaded in one go beside good images into `imgpipe local`.

Every input ends in a recorded outcome with a clear reason: inputs that can never succeed are `failed`
with a stable error code and a readable message, awkward-but-valid ones are `complete`. None is retried
(no transient failure, one analysis each, nothing in the DLQ), none costs an AI call it should not,
and the good images in the same batches finish.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from image_analysis.domain.keys import MAX_S3_KEY_BYTES
from image_analysis.domain.states import ImageStatus
from PIL import Image

from imgpipe.objects import list_keys
from tests import imagegen
from tests.e2e.harness import LocalPipeline, running_local_pipeline
from tests.e2e.helpers import AI_OPERATIONS, calls_for, pattern
from tests.reliability.accounting import analysed, log_by_key, transient, wait_settled

pytestmark = pytest.mark.slow

# Batches of 10 mix bad and good inputs in one invocation; one attempt per AWS call (no faults are
# injected here, so any retry would be a bug); a small byte limit makes `too_large` cheap to build.
# MIN_IMAGE_EDGE is the default, stated because the small-image kinds below are on either side of it.
MAX_IMAGE_BYTES = 2_000_000
MIN_IMAGE_EDGE = 16
CONTEXT: dict[str, Any] = {
    "max_attempts": 1,
    "batch_size": 10,
    "max_image_bytes": MAX_IMAGE_BYTES,
    "min_image_edge": MIN_IMAGE_EDGE,
}
PARIS = (48.8584, 2.2945)
DEADLINE_S = 150.0  # a safety net for a stuck pipeline, not a speed requirement


@dataclass(frozen=True)
class Kind:
    name: str
    key: str  # the object key, input prefix included
    data: bytes
    status: str
    code: str | None = None
    reason: str | None = None  # words the error message (failed) or a note (complete) must contain
    seen_as: bytes | None = None  # complete kinds: the picture the AI services must have been sent
    rekognition_sees: bytes | None = None  # when Rekognition's picture differs (padded): that one


def _png(image: Image.Image) -> bytes:
    return imagegen.encode(image, "PNG")


def _sixteen_bit(seed: int) -> Image.Image:
    grey = pattern(seed).convert("L")
    wide = Image.new("I;16", grey.size)
    wide.putdata([value * 257 for value in grey.tobytes()])
    return wide


def _float_with_nan(seed: int) -> Image.Image:
    """The pattern as 32-bit floats, with a NaN first pixel (Pillow's extrema become NaN) and an +inf."""
    grey = pattern(seed).convert("L")
    floats = Image.new("F", grey.size)
    floats.putdata([value / 255 for value in grey.tobytes()])
    floats.putpixel((0, 0), float("nan"))
    floats.putpixel((grey.width - 1, grey.height - 1), float("inf"))
    return floats


def _padded_for_rekognition(image: Image.Image, fitted: tuple[int, int]) -> bytes:
    """What the pipeline sends Rekognition for a panorama: fitted, then centred on white 80 px high."""
    small = image.resize(fitted, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (fitted[0], 80), "white")
    canvas.paste(small, (0, (80 - fitted[1]) // 2))
    return _png(canvas)


def _without_gps_references(jpeg: bytes) -> bytes:
    exif = imagegen.exif_with(gps=PARIS)
    gps = exif.get_ifd(0x8825)
    del gps[1], gps[3]  # GPSLatitudeRef, GPSLongitudeRef
    return imagegen.encode(Image.open(io.BytesIO(jpeg)), "JPEG", quality=92, exif=exif.tobytes())


def _key_of_bytes(prefix: str, total: int) -> str:
    """A key of exactly `total` UTF-8 bytes (some multi-byte characters in it), ending in .jpg."""
    head = prefix + "long/Zürich-"
    filler = total - len(head.encode()) - len(".jpg")
    return head + "x" * filler + ".jpg"


def corpus(input_prefix: str) -> list[Kind]:
    def k(relative: str) -> str:
        return input_prefix + relative

    jpeg = imagegen.encode(pattern(900), "JPEG", quality=90)
    gif_frames = [pattern(905), pattern(906, "Red")]
    tiff_pages = [pattern(907), pattern(908, "Green")]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    broken_exif = (
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\xff\xff"  # 5 entries promised, 0 there
    )
    longest = _key_of_bytes(input_prefix, 1000)
    too_long = _key_of_bytes(input_prefix, MAX_S3_KEY_BYTES)
    failed, complete = ImageStatus.FAILED, ImageStatus.COMPLETE
    small = pattern(901, size=(79, 79))
    panorama = pattern(917, size=(20000, 300))
    gif = imagegen.encode(pattern(921), "GIF")
    heic = imagegen.encode(pattern(922), "HEIF", quality=90)
    kinds = [
        # Inputs that can never succeed: failed, with a stable code and a message naming the problem.
        Kind("zero bytes", k("bad/empty.jpg"), b"", failed, "empty", "empty"),
        Kind(
            "truncated JPEG",
            k("bad/truncated.jpg"),
            jpeg[: len(jpeg) // 2],
            failed,
            "truncated",
            "truncated JPEG",
        ),
        Kind(
            "JPEG cut inside its header",
            k("bad/header.jpg"),
            jpeg[:300],
            failed,
            "truncated",
            "truncated JPEG",
        ),
        Kind("JPEG cut after 5 bytes", k("bad/stub.jpg"), jpeg[:5], failed, "truncated", "truncated JPEG"),
        Kind(
            "PNG with a damaged header chunk",
            k("bad/damaged-header.png"),
            _damaged_ihdr(_png(pattern(920))),
            failed,
            "corrupt",
            "corrupt PNG",
        ),
        Kind("GIF cut early", k("bad/cut.gif"), gif[:10], failed, "truncated", "truncated GIF"),
        Kind(
            "HEIC cut in half",
            k("bad/cut.heic"),
            heic[: len(heic) // 2],
            failed,
            "truncated",
            "truncated HEIF",
        ),
        Kind(
            "text named .jpg",
            k("bad/notes.jpg"),
            b"shopping list:\n- eggs\n- milk\n",
            failed,
            "not_an_image",
            "text",
        ),
        Kind(
            "HTML named .png",
            k("bad/page.png"),
            b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
            failed,
            "not_an_image",
            "HTML",
        ),
        Kind(
            "SVG",
            k("bad/drawing.svg"),
            b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><circle r="40"/></svg>',
            failed,
            "not_an_image",
            "SVG",
        ),
        Kind(
            "PDF",
            k("bad/document.pdf"),
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            failed,
            "not_an_image",
            "PDF",
        ),
        Kind("ZIP named .jpg", k("bad/archive.jpg"), zipped.getvalue(), failed, "not_an_image", "ZIP"),
        Kind(
            "random bytes",
            k("bad/noise.bin"),
            random.Random(7).randbytes(4096),
            failed,
            "not_an_image",
            "none of",
        ),
        Kind(
            "decompression bomb", k("bad/bomb.png"), imagegen.png_bomb(), failed, "decompression_bomb", "bomb"
        ),
        Kind(
            "bomb under Pillow's own limit",
            k("bad/bomb-144mp.png"),
            imagegen.png_bomb(12_000, 12_000),
            failed,
            "decompression_bomb",
            "12000x12000",
        ),
        Kind(
            "1x1 image", k("bad/pixel.png"), _png(Image.new("RGB", (1, 1), "red")), failed, "too_small", "1x1"
        ),
        Kind(
            "12x10 photo with GPS",
            k("bad/tiny-gps.jpg"),
            imagegen.jpeg((12, 10), gps=PARIS),
            failed,
            "too_small",
            "12x10",
        ),
        Kind(
            "100000x10 strip",
            k("bad/strip.png"),
            _png(Image.new("L", (100_000, 10), 128)),
            failed,
            "too_small",
            "100000x10",
        ),
        Kind(
            "file over MAX_IMAGE_BYTES",
            k("bad/huge.jpg"),
            b"\xff\xd8\xff\xe0" + random.Random(8).randbytes(MAX_IMAGE_BYTES + 100_000),
            failed,
            "too_large",
            "MAX_IMAGE_BYTES",
        ),
        Kind("key with ../", k("../escape.jpg"), jpeg, failed, "unsafe_key", "'..'"),
        Kind("key with ../../", k("a/../../escape.jpg"), jpeg, failed, "unsafe_key", "'..'"),
        Kind("key with ./", k("./dot.jpg"), jpeg, failed, "unsafe_key", "'.'"),
        Kind("key with //", k("double//slash.jpg"), jpeg, failed, "unsafe_key", "empty path segments"),
        Kind("key with a backslash", k("back\\slash.jpg"), jpeg, failed, "unsafe_key", "backslash"),
        Kind("key of 1,024 bytes", too_long, jpeg, failed, "key_too_long", "1024"),
        # Valid but awkward: analysed, complete.
        Kind(
            "16-bit PNG",
            k("awkward/sixteen-bit.png"),
            _png(_sixteen_bit(902)),
            complete,
            seen_as=_png(pattern(902)),
        ),
        Kind(
            "16-bit TIFF",
            k("awkward/sixteen-bit.tif"),
            imagegen.encode(_sixteen_bit(903), "TIFF"),
            complete,
            seen_as=_png(pattern(903)),
        ),
        Kind(
            "CMYK JPEG",
            k("awkward/cmyk.jpg"),
            imagegen.encode(pattern(904).convert("CMYK"), "JPEG", quality=92),
            complete,
            seen_as=_png(pattern(904)),
        ),
        Kind(
            "animated GIF",
            k("awkward/animated.gif"),
            imagegen.encode(
                gif_frames[0].quantize(colors=4),
                "GIF",
                save_all=True,
                append_images=[gif_frames[1].quantize(colors=4)],
                duration=100,
                loop=0,
            ),
            complete,
            seen_as=_png(gif_frames[0]),  # the first frame
        ),
        Kind(
            "multi-page TIFF",
            k("awkward/pages.tiff"),
            imagegen.encode(tiff_pages[0], "TIFF", save_all=True, append_images=tiff_pages[1:]),
            complete,
            seen_as=_png(tiff_pages[0]),  # the first page
        ),
        Kind(
            "HEIC",
            k("awkward/phone.heic"),
            imagegen.encode(pattern(909), "HEIF", quality=90),
            complete,
            seen_as=_png(pattern(909)),
        ),
        Kind(
            "JPEG with a broken EXIF block",
            k("awkward/broken-exif.jpg"),
            imagegen.with_app1(imagegen.encode(pattern(910), "JPEG", quality=92), broken_exif),
            complete,
            reason="EXIF",
            seen_as=_png(pattern(910)),
        ),
        Kind(
            "79x79 photo",
            k("awkward/small.jpg"),
            imagegen.encode(small, "JPEG", quality=92),
            complete,
            reason="enlarged from 79x79",
            seen_as=_png(small),
        ),
        Kind(
            "100x68 photo with GPS",
            k("awkward/small-gps.jpg"),
            imagegen.encode(
                pattern(923, size=(100, 68)), "JPEG", quality=92, exif=imagegen.exif_with(gps=PARIS).tobytes()
            ),
            complete,
            reason="enlarged from 100x68",
            seen_as=_png(pattern(923, size=(100, 68))),
        ),
        Kind(
            "long phone screenshot",
            k("awkward/screenshot.png"),
            _png(pattern(916, size=(1170, 20000))),
            complete,
            seen_as=_png(pattern(916, size=(1170, 20000))),
        ),
        Kind(
            "thin panorama",
            k("awkward/panorama.png"),
            _png(panorama),
            complete,
            reason="padded with white",
            seen_as=_png(panorama.resize((2048, 31)).resize((1024, 16))),  # Bedrock: 1024 px wide
            rekognition_sees=_padded_for_rekognition(panorama, (2048, 31)),
        ),
        Kind(
            "PNG with megabytes of text metadata",
            k("awkward/xmp.png"),
            imagegen.png_with_chunks(
                pattern(918), [imagegen.xmp_itxt(3_000_000), imagegen.ztxt("Comment", 2_000_000)]
            ),
            complete,
            reason="PNG text metadata ignored",
            seen_as=_png(pattern(918)),
        ),
        Kind(
            "float TIFF with NaN and infinity",
            k("awkward/float.tif"),
            imagegen.encode(_float_with_nan(919), "TIFF"),
            complete,
            reason="NaN",
            seen_as=_png(pattern(919)),
        ),
        Kind(
            "GPS without hemisphere references",
            k("awkward/no-gps-refs.jpg"),
            _without_gps_references(_jpeg(924)),
            complete,
            reason="no N/S or E/W reference",
            seen_as=_jpeg(924),
        ),
        Kind("key of 1,000 bytes", longest, _jpeg(911), complete, seen_as=_jpeg(911)),
        Kind("key with +", k("keys/a+b=c.jpg"), _jpeg(912), complete, seen_as=_jpeg(912)),
        Kind("key with spaces", k("keys/my  holiday photo .jpg"), _jpeg(913), complete, seen_as=_jpeg(913)),
        Kind("key with %", k("keys/100% sure %2F%20%zz.jpg"), _jpeg(914), complete, seen_as=_jpeg(914)),
        Kind("key in unicode", k("keys/Zürich 東京 café 📷.jpg"), _jpeg(915), complete, seen_as=_jpeg(915)),
    ]
    assert len(longest.encode()) == 1000 and len(too_long.encode()) == MAX_S3_KEY_BYTES
    return kinds


def _jpeg(seed: int) -> bytes:
    return imagegen.encode(pattern(seed), "JPEG", quality=92)


def _damaged_ihdr(png: bytes) -> bytes:
    damaged = bytearray(png)
    damaged[20] ^= 0xFF  # the IHDR chunk's width: its CRC no longer matches
    return bytes(damaged)


def good_images(input_prefix: str) -> dict[str, bytes]:
    return {
        f"{input_prefix}good/photo-{n}.{'jpg' if n % 2 else 'png'}": imagegen.encode(
            pattern(950 + n, ("Blue", "Green", "Red")[n % 3]), "JPEG" if n % 2 else "PNG"
        )
        for n in range(6)
    }


@dataclass
class Run:
    pipeline: LocalPipeline
    kinds: list[Kind]
    good: dict[str, bytes]
    calls: list[dict[str, Any]]
    log: dict[str, list[dict[str, Any]]]


def interleaved(bad: dict[str, bytes], good: dict[str, bytes]) -> dict[str, bytes]:
    """Bad and good inputs in one upload order with a good one every few bad ones: the queue hands out
    messages in about that order, so every batch of more than a few holds both kinds."""
    step = max(1, len(bad) // max(1, len(good)))
    goods, order = list(good.items()), []
    for number, item in enumerate(bad.items()):
        if number % step == 0 and goods:
            order.append(goods.pop(0))
        order.append(item)
    return dict(order + goods)


@pytest.fixture(scope="module")
def run(_fake_aws_environment: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with running_local_pipeline(tmp_path_factory.mktemp("bad-input"), CONTEXT) as pipeline:
        prefix = pipeline.settings.input_prefix
        kinds, good = corpus(prefix), good_images(prefix)
        uploads = interleaved({kind.key: kind.data for kind in kinds}, good)
        assert len(uploads) == len(kinds) + len(good), "two kinds share a key"
        # All in one go: the workers are frozen while the uploads land, so their first batches are full.
        with pipeline.paused_workers(), ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: pipeline.upload(*item), uploads.items()))
        wait_settled(pipeline, uploads, DEADLINE_S, "the bad-input corpus")
        yield Run(pipeline, kinds, good, pipeline.double.calls, log_by_key(pipeline.log_lines()))


def test_the_corpus_has_at_least_twenty_kinds(run: Run) -> None:
    assert len(run.kinds) >= 20
    assert {k.status for k in run.kinds} == {ImageStatus.FAILED, ImageStatus.COMPLETE}


def test_every_kind_ends_in_its_expected_outcome_with_a_clear_reason(run: Run) -> None:
    problems = []
    for kind in run.kinds:
        record = run.pipeline.record(kind.key)
        got = (record or {}).get("status"), (record or {}).get("error_code")
        if got != (kind.status, kind.code):
            problems.append(f"{kind.name}: expected {(kind.status, kind.code)}, got {got}: {record}")
            continue
        assert record is not None
        if kind.status == ImageStatus.FAILED:
            message = record.get("error_message") or ""
            if not message.strip() or (kind.reason and kind.reason not in message):
                problems.append(f"{kind.name}: error_message {message!r} lacks {kind.reason!r}")
    assert not problems, "\n".join(problems)


def test_the_strip_is_refused_naming_its_size(run: Run) -> None:
    strip = next(k for k in run.kinds if k.name == "100000x10 strip")
    record = run.pipeline.record(strip.key)
    assert record and record["error_code"] == "too_small"
    assert "100000x10" in record["error_message"] and f"{MIN_IMAGE_EDGE} px" in record["error_message"]


def test_small_photos_keep_their_gps_place_analysed_or_refused(run: Run) -> None:
    # A 100x68 photo is analysed in full; a 12x10 one is refused, but its format, size and place stay.
    for name, status in (
        ("100x68 photo with GPS", ImageStatus.COMPLETE),
        ("12x10 photo with GPS", ImageStatus.FAILED),
    ):
        kind = next(k for k in run.kinds if k.name == name)
        record = run.pipeline.record(kind.key)
        assert record and record["status"] == status, (name, record)
        assert record["latitude"] == pytest.approx(PARIS[0], abs=1e-5), (name, record)
        document = json.loads(run.pipeline.results(kind.key)[".json"])
        assert document["image"]["format"] == "JPEG" and document["image"]["width"], (name, document)
        assert document["analyses"]["gps"]["place"]["country"] == "France", (name, document)


def test_good_images_beside_them_all_complete(run: Run) -> None:
    for key in run.good:
        record = run.pipeline.record(key)
        assert record and record["status"] == ImageStatus.COMPLETE and record["location"], (key, record)
        assert set(run.pipeline.results(key)) == {".json", ".txt"}


def test_nothing_is_retried_nor_parked_in_the_dlq(run: Run) -> None:
    pipeline = run.pipeline
    assert pipeline.dlq_keys() == set()
    assert pipeline.queue_depth() == 0
    for kind in run.kinds:
        lines = run.log.get(kind.key, [])
        assert len(analysed(lines)) == 1, f"{kind.name}: analysed {len(analysed(lines))} times: {lines}"
        assert not transient(lines), f"{kind.name} was retried: {transient(lines)}"
        assert not [line for line in lines if line.get("level") == "ERROR"], (kind.name, lines)
    assert not [line for lines in run.log.values() for line in lines if line.get("level") == "ERROR"]


def test_no_input_crashed_its_batch(run: Run) -> None:
    """Bad and good inputs shared invocations, and every invocation finished all of its images."""
    by_invocation: dict[str, set[str]] = defaultdict(set)
    for lines in run.log.values():
        for line in analysed(lines):
            by_invocation[line["function_request_id"]].add(line["status"])
    mixed = [
        statuses
        for statuses in by_invocation.values()
        if {ImageStatus.FAILED, ImageStatus.COMPLETE} <= statuses
    ]
    assert mixed, f"no invocation mixed bad and good inputs: {dict(by_invocation)}"
    lines = run.pipeline.log_lines()
    assert not [line for line in lines if line.get("message") == "malformed message; it will reach the DLQ"]
    tracebacks = [
        log.name
        for log in run.pipeline.logs.glob("worker-*.log")
        if "Traceback" in log.read_text(encoding="utf-8", errors="replace")
    ]
    assert not tracebacks, f"a handler raised (the whole batch failed): see {tracebacks}"


def test_failed_inputs_cost_no_ai_call_and_awkward_ones_exactly_one_each(run: Run) -> None:
    complete = [k for k in run.kinds if k.status == ImageStatus.COMPLETE]
    for kind in complete:
        assert kind.seen_as is not None
        for operation in AI_OPERATIONS:
            bedrock = operation in ("Converse", "InvokeModel")  # both read the Bedrock rendition
            seen = kind.seen_as if bedrock else kind.rekognition_sees or kind.seen_as
            matching = calls_for(run.calls, operation, seen)
            assert [c["outcome"] for c in matching] == ["OK"], f"{kind.name} {operation}: {matching}"
    for kind in run.kinds:
        if kind.status == ImageStatus.FAILED and kind.code in ("unsafe_key", "key_too_long"):
            # Decodable pictures refused for their key: the services never saw them.
            assert calls_for(run.calls, "DetectLabels", kind.data) == [], kind.name
    # Every call is accounted for by a complete input (or a good image): none for a failed one.
    expected = len(AI_OPERATIONS) * (len(complete) + len(run.good))
    assert len(run.calls) == expected, (
        f"{len(run.calls)} AI calls for {expected // len(AI_OPERATIONS)} analysable images"
    )


def test_awkward_inputs_keep_their_notes_and_results_fit_s3(run: Run) -> None:
    pipeline = run.pipeline
    for kind in run.kinds:
        if kind.status != ImageStatus.COMPLETE:
            continue
        record = pipeline.record(kind.key)
        assert record is not None
        results = pipeline.results(kind.key)
        assert set(results) == {".json", ".txt"}, kind.name
        assert record["result_key"] == pipeline.layout.json_key(kind.key)
        assert len(record["result_key"].encode()) <= MAX_S3_KEY_BYTES
        document = json.loads(results[".json"])
        assert document["image"]["key"] == kind.key and document["status"] == ImageStatus.COMPLETE
        if kind.reason:
            assert any(kind.reason in note for note in document["notes"]), (kind.name, document["notes"])


def test_refused_keys_get_a_record_and_no_result_object(run: Run) -> None:
    pipeline = run.pipeline
    output_prefix = pipeline.settings.output_prefix
    result_keys = list(list_keys(pipeline.stack.s3, pipeline.stack.bucket, output_prefix))
    for kind in run.kinds:
        if kind.code not in ("unsafe_key", "key_too_long"):
            continue
        record = pipeline.record(kind.key)
        assert record and "result_key" not in record and "text_key" not in record, (kind.name, record)
        naive = output_prefix + kind.key[len(pipeline.settings.input_prefix) :]
        assert not [key for key in result_keys if key.startswith(naive)], (kind.name, result_keys)
    assert not [key for key in result_keys if "escape" in key or "dot.jpg" in key], result_keys
    everything = list(list_keys(pipeline.stack.s3, pipeline.stack.bucket))
    outside = [k for k in everything if not k.startswith((output_prefix, pipeline.settings.input_prefix))]
    assert not outside, f"objects outside both prefixes: {outside}"
    for key in result_keys:
        segments = key[len(output_prefix) :].split("/")
        assert not {"", ".", ".."} & set(segments) and "\\" not in key, key
