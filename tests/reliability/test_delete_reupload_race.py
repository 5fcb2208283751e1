"""Delete, then upload the same key again at once: hundreds of rounds through `imgpipe local`, and no
upload may be lost.

Each round deletes an analysed image and re-uploads its key after a gap of 0–200 ms, with the same bytes
or new ones, while eight sandboxes work the queue: the removal event and the new upload's event race
each other in every order S3 and SQS allow. At the end every key must hold its latest upload's record
(status complete, its version), both result documents and its label items: a key with an object but
without those is a lost upload. Nothing may wait in the DLQ either.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from image_analysis.domain.states import ImageStatus

from tests.e2e.harness import LocalPipeline, running_local_pipeline
from tests.e2e.helpers import encode, pattern

pytestmark = pytest.mark.slow

ROUNDS = 300
MAX_GAP_S = 0.2
SANDBOXES = 8
WAVE = 8  # rounds started together
SETTLE_S = 300.0  # a safety net for a stuck pipeline, not a speed requirement
# Function timeout 20 s: the synth requires it to cover one image's worst case (one attempt per call
# with the read timeouts below, plus the storage allowance), and it sets the claim's lease to 80 s.
CONTEXT: dict[str, Any] = {
    "timeout_s": 20,
    "max_attempts": 1,
    "bedrock_read_timeout_s": 5,
    "rekognition_read_timeout_s": 3,
    "embedding_read_timeout_s": 3,
    "batch_size": 5,
    "max_concurrency": SANDBOXES,
    "enable_comprehension": False,  # no text to read in its pictures; keeps the worst case above
}


@pytest.fixture(scope="module")
def race_pipeline(
    _fake_aws_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPipeline]:
    with running_local_pipeline(tmp_path_factory.mktemp("race"), CONTEXT) as pipeline:
        while len(pipeline.workers) + len(pipeline.started) < SANDBOXES:
            pipeline.start_worker()
        yield pipeline


def image(round_number: int, generation: int) -> bytes:
    return encode(pattern(round_number * 10 + generation, "Green", size=(160, 120)), "JPEG")


def lost_uploads(pipeline: LocalPipeline, keys: list[str]) -> dict[str, str]:
    """key -> what is wrong, for every key whose current object is not fully analysed."""
    lost = {}
    for key in keys:
        head = pipeline.stack.s3.head_object(Bucket=pipeline.stack.bucket, Key=key)
        record = pipeline.record(key)
        if record is None:
            lost[key] = "object in the bucket, no record"
        elif record.get("status") != ImageStatus.COMPLETE or record.get("version_tag") != head["VersionId"]:
            lost[key] = (
                f"record {record.get('status')} for {record.get('version_tag')}, not {head['VersionId']}"
            )
        elif set(pipeline.results(key)) != {".json", ".txt"}:
            lost[key] = f"result documents {sorted(pipeline.results(key))}"
        elif not any(item["sk"]["S"].startswith("LABEL#") for item in pipeline.items(key)):
            lost[key] = "no label items"
    return lost


def test_deleting_and_reuploading_at_once_never_loses_the_new_upload(
    race_pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = race_pipeline
    rng = random.Random(20261130)
    keys = [pipeline.key(f"race/{n:03d}.jpg") for n in range(ROUNDS)]
    # Given every key analysed once
    for n, key in enumerate(keys):
        pipeline.upload(key, image(n, 0))
    pipeline.wait_final(keys, timeout=SETTLE_S)

    # When each is deleted and uploaded again after 0-200 ms, half with the same bytes, in waves of
    # eight rounds on an idle pipeline, so each removal is picked up at once and its checks and deletes
    # overlap the re-upload's claim (behind a backlog, removals would mostly run after the re-upload)
    def delete_and_reupload(n: int) -> None:
        pipeline.delete(keys[n])
        time.sleep(gaps[n])
        pipeline.upload(keys[n], image(n, 0 if n % 2 else 1))

    gaps = [rng.uniform(0, MAX_GAP_S) for _ in keys]
    started = time.monotonic()
    with ThreadPoolExecutor(WAVE) as pool:
        for wave in range(0, ROUNDS, WAVE):
            list(pool.map(delete_and_reupload, range(wave, min(wave + WAVE, ROUNDS))))
            _settle(pipeline, quiet_s=0.5)
    _settle(pipeline, quiet_s=5)
    lost = lost_uploads(pipeline, keys)
    with capsys.disabled():
        print(
            f"\n  race: {ROUNDS} rounds, gaps 0-{MAX_GAP_S * 1000:.0f} ms, {SANDBOXES} sandboxes: "
            f"{len(lost)} lost, {len(pipeline.dlq_keys())} in the DLQ, settled in {time.monotonic() - started:.0f} s"
        )
    # Then no upload is lost, and nothing had to be parked in the DLQ
    assert lost == {}, f"{len(lost)} lost upload(s), e.g. {dict(list(lost.items())[:5])}"
    assert pipeline.dlq_keys() == set()


def _settle(pipeline: LocalPipeline, quiet_s: float) -> None:
    """Wait until the queue is empty and stays so for `quiet_s` (retries come back after a back-off)."""
    deadline = time.monotonic() + SETTLE_S
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if pipeline.queue_depth() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > quiet_s:
                return
        else:
            quiet_since = None
        time.sleep(0.1)
    raise AssertionError(f"the queue did not drain in {SETTLE_S} s: {pipeline.queue_depth()} left")
