"""Soak: 1,000 images through `imgpipe local` while the AI double throttles, fails and lags, 10% of the
uploads are delivered twice and a worker is killed mid-image; then every image is accounted for.

The accounting at the end: every uploaded key has exactly one final RESULT record or its message is in
the DLQ (never both, never neither), label items exist for final records only, every image was analysed
(logged, written) once, and no duplicate delivery cost an AI call: per image and operation, successful
calls never exceed the deliveries that claimed the image (a duplicate never claims it).

The run is followed through the workers' logs, not by polling the table: moto's DynamoDB queries scan
and sort every item, and polling them would slow the pipeline being measured.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from image_analysis.domain import table as t
from image_analysis.domain.states import FINAL_STATUSES, ImageStatus

from imgpipe.local import emulator, runner
from imgpipe.local.runner import LocalOptions
from imgpipe.simulated import ai_answers
from imgpipe.simulated.ai_services import DoubleConfig
from infra.config import CLAIM_MARGIN_S
from infra.trigger import VISIBILITY_TIMEOUT_FACTOR
from tests.e2e.harness import LocalPipeline, running_local_pipeline
from tests.e2e.helpers import pattern
from tests.imagegen import encode
from tests.reliability.accounting import LogTail, dead_letter_counts
from tests.support import s3_record

pytestmark = pytest.mark.slow

IMAGES = 1000
DUPLICATE_SHARE = 0.10  # of the uploads get a second copy of their S3 event
KILL_AFTER = 300  # images analysed before a worker is killed
STALL_S = 330.0  # no image finished for this long (the killed batch's 270 s wait included): stuck
RUN_LIMIT_S = 900.0  # the whole run, a safety net; neither is a speed requirement
FREEZE_S = 8.0  # a frozen worker's claim that no one moves meanwhile is probably its own...
CONFIRM_S = 30.0  # ...and one still unmoved this long after the kill certainly is (images take seconds)
AI_OPERATIONS = ("Converse", "DetectLabels", "DetectText", "DetectModerationLabels", "DetectFaces")
BUSY = "being analysed by another invocation"

# A short function timeout so a killed sandbox's messages come back soon, yet faithfully: the stack
# derives the queue's visibility timeout (6x) and the claim lease (timeout + 60 s) from it, and one
# image's worst case (every call timing out on every attempt) must fit in it, so the AI read timeouts
# are short (the double answers in about 0.1 s).
#
# Three attempts per AI call: with 30% throttling and 5% 5xx, about 1 call in 26 outlasts botocore's
# retries, so about 1 message in 7 is retried by SQS (well over 100 SQS-level retries a run). With two,
# 1 message in 2.6 fails a receive, and a key whose two deliveries compete would now and then exhaust
# one of them (it lands in the DLQ) while the other finishes the image: an artefact of the local retry
# delay of seconds (AWS waits 6x the timeout between receives), not of the pipeline.
#
# 32 concurrent sandboxes: botocore's adaptive retry mode (runtime.py) slows each client down under
# sustained throttling to about one call a second, as a real Lambda sandbox would be; Lambda scales out
# to the event source's maximum concurrency, which is what keeps a throttled pipeline moving.
CONTEXT: dict[str, Any] = {
    # The synth requires it to cover one image's worst case, 3 x (1 + 2) + 3 + 10 = 22 s, and a batch
    # starts another image only while that much is left: twice that lets most batches run whole.
    "timeout_s": 45,
    "connect_timeout_s": 1,
    "bedrock_read_timeout_s": 2,
    "rekognition_read_timeout_s": 2,
    "embedding_read_timeout_s": 2,
    "max_attempts": 3,
    "batch_size": 5,
    "max_concurrency": 32,
    # Its pictures show no text Comprehend would read; off, the worst case above stays the one timed.
    "enable_comprehension": False,
}
FAULTS = DoubleConfig(
    latency_bedrock=0.05,
    latency_rekognition=0.05,
    jitter=0.05,
    throttle_rate=0.3,
    error_rate=0.05,
    seed=20261122,
)


@pytest.fixture(scope="module")
def soak_pipeline(
    _fake_aws_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPipeline]:
    # The retry delay `imgpipe local` uses (AWS: the visibility timeout) between a failed receive and
    # the next: a copy refused as busy waits out most of the other delivery's attempt.
    retry_delay = LocalOptions(paths=[]).retry_delay
    with running_local_pipeline(tmp_path_factory.mktemp("soak"), CONTEXT, FAULTS, retry_delay) as pipeline:
        # `imgpipe local` runs at most 4 workers; Lambda would run the template's maximum concurrency.
        while len(pipeline.workers) + len(pipeline.started) < (pipeline.spec.max_concurrency or 0):
            pipeline.start_worker()
        yield pipeline


def test_crash_recovery_timing_comes_from_the_stack(soak_pipeline: LocalPipeline) -> None:
    """The numbers the kill relies on, read from the synthesized stack rather than assumed."""
    spec, settings = soak_pipeline.spec, soak_pipeline.settings
    source = spec.queues[spec.source_queue_logical_id]
    assert spec.timeout_s == CONTEXT["timeout_s"]
    assert source.visibility_timeout_s == VISIBILITY_TIMEOUT_FACTOR * spec.timeout_s == 270
    assert settings.claim_timeout_s == spec.timeout_s + CLAIM_MARGIN_S == 105
    assert soak_pipeline.env["CLAIM_TIMEOUT_S"] == "105"
    # A killed sandbox's messages reappear only after its claims' leases ran out: the next receive
    # takes the claim over instead of waiting for a dead invocation.
    assert source.visibility_timeout_s > settings.claim_timeout_s
    assert settings.max_attempts == CONTEXT["max_attempts"]
    assert source.max_receive_count and source.dead_letter_logical_id
    assert spec.max_concurrency == CONTEXT["max_concurrency"]
    live = [w for w in (*soak_pipeline.workers, *soak_pipeline.started) if w.poll() is None]
    assert len(live) == spec.max_concurrency


@dataclass
class Kill:
    at: float  # epoch seconds
    worker: str
    replacement: str
    candidates: dict[
        str, tuple[str, str]
    ]  # key -> (claim token, updated_at) the frozen worker seemed to hold
    orphaned: dict[str, str] | None = None  # confirmed: key -> the dead claim's updated_at


@dataclass
class Run:
    """What the soak did, for the accounting."""

    images: dict[str, bytes]
    duplicates_before: set[str]
    duplicates_after: set[str]
    versions: dict[str, str] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    after_sent_at: dict[str, float] = field(default_factory=dict)  # key -> epoch when its copy was sent
    kills: list[Kill] = field(default_factory=list)
    analysed: set[str] = field(default_factory=set)  # per the logs
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def orphaned(self) -> dict[str, str]:
        return {k: v for kill in self.kills for k, v in (kill.orphaned or {}).items()}


def soak_images(prefix: str) -> dict[str, bytes]:
    colours = ("Blue", "Green", "Red")
    return {
        f"{prefix}soak/{n // 100:02d}/image-{n:04d}.jpg": encode(
            pattern(10_000 + n, colours[n % 3], size=(160, 120)), "JPEG"
        )
        for n in range(IMAGES)
    }


def send_duplicate(pipeline: LocalPipeline, run: Run, key: str) -> None:
    """A second delivery of the key's S3 event: the body shape S3 sends, the same object version."""
    record = s3_record("ObjectCreated:Put", pipeline.stack.bucket, key, run.versions[key], run.etags[key])
    pipeline.stack.sqs.send_message(
        QueueUrl=pipeline.stack.queue_url, MessageBody=json.dumps({"Records": [record]})
    )


def upload_one(pipeline: LocalPipeline, run: Run, key: str) -> None:
    response = pipeline.stack.s3.put_object(Bucket=pipeline.stack.bucket, Key=key, Body=run.images[key])
    with run.lock:
        run.versions[key] = response["VersionId"]
        run.etags[key] = response["ETag"].strip('"')
    if key in run.duplicates_before:
        send_duplicate(pipeline, run, key)  # before the original can have been processed


def processing_claims(pipeline: LocalPipeline) -> dict[str, tuple[str, str]]:
    """key -> (claim token, updated_at) of every record being processed now."""
    claims = {}
    pages = pipeline.stack.dynamodb.get_paginator("query").paginate(
        TableName=pipeline.stack.table,
        IndexName=t.BY_STATUS.name,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": t.BY_STATUS.partition_key},
        ExpressionAttributeValues={":pk": {"S": t.status_pk(ImageStatus.PROCESSING)}},
    )
    for page in pages:
        for item in page["Items"]:
            claims[item["image_key"]["S"]] = (item["claim_token"]["S"], item["updated_at"]["S"])
    return claims


def kill_a_worker_mid_image(pipeline: LocalPipeline, attempt: int) -> Kill | None:
    """Freeze one worker (SIGSTOP); if a claim stays unmoved meanwhile, the worker is probably in the
    middle of that image: SIGKILL it and start a replacement, as Lambda replaces a dead sandbox. A
    worker that seems to be between images is let go (None)."""
    live = [w for w in (*pipeline.workers, *pipeline.started) if w.poll() is None]
    worker = live[(attempt * 7) % len(live)]
    os.kill(worker.pid, signal.SIGSTOP)
    before = processing_claims(pipeline)
    time.sleep(FREEZE_S)
    unmoved = {key: claim for key, claim in processing_claims(pipeline).items() if before.get(key) == claim}
    if not unmoved:
        os.kill(worker.pid, signal.SIGCONT)
        return None
    killed_at = time.time()
    pipeline.kill_worker(worker)  # SIGKILL works on a stopped process
    replacement = pipeline.start_worker()
    return Kill(killed_at, LocalPipeline._name(worker), LocalPipeline._name(replacement), unmoved)


def confirm_orphans(pipeline: LocalPipeline, kill: Kill) -> None:
    """The candidates still claimed, unmoved, long after the kill: the dead invocation's own."""
    now = processing_claims(pipeline)
    kill.orphaned = {key: claim[1] for key, claim in kill.candidates.items() if now.get(key) == claim}


def settled(pipeline: LocalPipeline, run: Run, keys: set[str]) -> bool:
    """Every key analysed or in the DLQ (the DLQ is looked at only when some key is not analysed)."""
    open_keys = keys - run.analysed
    if not open_keys:
        return True
    open_keys -= committed_unlogged(pipeline, run, open_keys)
    return open_keys <= set(dead_letter_counts(pipeline))


def committed_unlogged(pipeline: LocalPipeline, run: Run, keys: set[str]) -> set[str]:
    """Keys without an "image analysed" line whose final record was committed by a sandbox we froze and
    killed between its commit and that log line (as a crash in Lambda would): analysed, unlogged."""
    found = set()
    for key in keys:
        record = pipeline.record(key)
        if not record or record.get("status") not in FINAL_STATUSES:
            continue
        committed = iso_time(str(record["updated_at"]))
        if any(kill.at - FREEZE_S - 30 <= committed <= kill.at for kill in run.kills):
            found.add(key)
    return found


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n  soak: {text}", flush=True)


def drive(pipeline: LocalPipeline, run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    """Upload, duplicate, kill and wait until every key is settled, following the workers' logs."""
    keys = set(run.images)
    tail = LogTail(pipeline.logs)
    last_progress = time.monotonic()
    next_report = time.monotonic() + 30
    attempts = 0
    with ThreadPoolExecutor(8) as pool:
        uploads: list[Future[None]] = [pool.submit(upload_one, pipeline, run, key) for key in run.images]
        while True:
            fresh = {
                line["correlation_id"]
                for line in tail.new_lines()
                if line.get("message") == "image analysed" and line.get("correlation_id") in keys
            }
            if fresh - run.analysed:
                last_progress = time.monotonic()
            run.analysed |= fresh
            for key in sorted((run.duplicates_after & run.analysed) - set(run.after_sent_at)):
                run.after_sent_at[key] = time.time()  # after the original has been processed
                send_duplicate(pipeline, run, key)
            kill = run.kills[-1] if run.kills else None
            if kill and kill.orphaned is None and time.time() > kill.at + CONFIRM_S:
                confirm_orphans(pipeline, kill)
                report(
                    capsys,
                    f"killed {kill.worker} holding {sorted(kill.orphaned)}; {kill.replacement} started",
                )
            need_kill = not run.orphaned and (kill is None or kill.orphaned is not None)
            if (
                need_kill
                and len(run.analysed) >= KILL_AFTER
                and settled(pipeline, run, run.duplicates_before)
            ):
                # Only once every early copy is settled: a copy of the dead claim's image would be
                # refused as busy until the lease ran out and could exhaust its receives meanwhile.
                assert attempts < 10, "no worker was caught in the middle of an image in 10 tries"
                killed = kill_a_worker_mid_image(pipeline, attempts)
                attempts += 1
                if killed:
                    run.kills.append(killed)
                continue
            queued = pipeline.queue_depth()
            done = all(f.done() for f in uploads)
            if done and run.orphaned and queued == 0 and settled(pipeline, run, keys):
                unsent = run.duplicates_after - set(run.after_sent_at)  # in the DLQ: never final
                run.duplicates_after -= unsent
                for future in uploads:
                    future.result()
                return
            now = time.monotonic()
            if now > next_report:
                next_report += 30
                report(capsys, f"{now - run.started:.0f} s: analysed {len(run.analysed)}, queued {queued}")
            if now - last_progress > STALL_S or now - run.started > RUN_LIMIT_S:
                dead = dead_letter_counts(pipeline)
                missing = keys - run.analysed - set(dead)
                raise AssertionError(
                    f"soak stuck after {now - run.started:.0f} s ({now - last_progress:.0f} s without progress): "
                    f"uploaded {sum(f.done() for f in uploads)}/{len(keys)}, analysed {len(run.analysed)}, "
                    f"in the DLQ {len(dead)}, queued or in flight {queued}, duplicates sent "
                    f"{len(run.duplicates_before)} at upload + {len(run.after_sent_at)} late, kills {run.kills}; "
                    f"{len(missing)} key(s) unaccounted, e.g.\n"
                    + "\n".join(f"  {k}: {pipeline.record(k)}" for k in sorted(missing)[:10])
                )
            time.sleep(1.0)


def log_time(line: dict[str, Any]) -> float:
    return datetime.strptime(line["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()


def iso_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class CallImages:
    """Which uploaded image each AI call was about, from the fingerprint the double logged."""

    def __init__(self, images: dict[str, bytes]) -> None:
        self.fingerprints = {key: ai_answers.fingerprint(data) for key, data in images.items()}
        self.exact = {fp: key for key, fp in self.fingerprints.items()}
        assert len(self.exact) == len(images), "two images share a fingerprint: calls could not be told apart"
        self.nearest: dict[str, str] = {}

    def __call__(self, call: dict[str, Any]) -> str | None:
        seen = next((i["fingerprint"] for i in call["images"] if i.get("fingerprint")), None)
        if seen is None:
            return None  # refused before the image was read (throttled at the door)
        if seen in self.exact:
            return self.exact[seen]
        if seen not in self.nearest:
            ranked = sorted((ai_answers.hamming(seen, fp), key) for key, fp in self.fingerprints.items())
            (best, key), (second, _) = ranked[0], ranked[1]
            assert best <= ai_answers.DEFAULT_MAX_DISTANCE < second, f"ambiguous call {call}: {ranked[:3]}"
            self.nearest[seen] = key
        return self.nearest[seen]


def test_soak_every_image_is_accounted_for_exactly_once(
    soak_pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = soak_pipeline
    images = soak_images(pipeline.settings.input_prefix)
    keys = list(images)
    image_of = CallImages(images)
    duplicated = random.Random(1122).sample(keys, int(IMAGES * DUPLICATE_SHARE))
    # Early uploads get their copy at once (it can arrive before, during or after the original's
    # processing); the others get it once they have been analysed (a late redelivery).
    early = set(keys[: IMAGES // 4])
    run = Run(
        images=images,
        duplicates_before={k for k in duplicated if k in early},
        duplicates_after={k for k in duplicated if k not in early},
    )
    assert run.duplicates_before and run.duplicates_after

    drive(pipeline, run, capsys)
    runtime = time.monotonic() - run.started

    # ---- where every key ended -----------------------------------------------------------------
    final = runner.final_records(pipeline.stack, pipeline.settings)
    dead = dead_letter_counts(pipeline)
    uploaded = set(keys)
    lost = uploaded - set(final) - set(dead)
    both = uploaded & set(final) & set(dead)
    assert not lost, f"{len(lost)} image(s) lost: {sorted(lost)[:10]}"
    assert not both, f"{len(both)} image(s) both final and in the DLQ: {sorted(both)[:10]}"
    assert set(dead) <= uploaded, f"DLQ messages about keys never uploaded: {set(dead) - uploaded}"
    for key in dead:
        record = pipeline.record(key)
        assert record and record["status"] == ImageStatus.RETRYING and record.get("last_error"), (key, record)

    # ---- records: one RESULT item per key, label items for final records only --------------------
    results: Counter[str] = Counter()
    labels: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in emulator.scan(pipeline.stack.dynamodb, pipeline.stack.table):
        sk = item["sk"]["S"]
        if sk == t.RESULT_SK:
            results[item["image_key"]["S"]] += 1
        elif sk.startswith("LABEL#"):
            labels[item["image_key"]["S"]].append(item)
    assert set(results) == uploaded and set(results.values()) == {1}, "RESULT items are not one per key"
    assert set(labels) <= set(final), f"label items without a final record: {set(labels) - set(final)}"
    for key, items in labels.items():
        assert {i["status"]["S"] for i in items} == {final[key]["status"]}, key
    statuses = Counter(record["status"] for key, record in final.items() if key in uploaded)
    assert statuses[ImageStatus.PARTIAL] == statuses[ImageStatus.FAILED] == 0, (
        f"only transient faults were injected: {statuses}"
    )

    # ---- one analysis per image: logged once, result objects written once -------------------------
    lines = pipeline.log_lines()
    analysed: Counter[str] = Counter()
    claimed: Counter[str] = Counter()  # deliveries that claimed the image and worked on it
    busy: Counter[str] = Counter()
    acknowledged_duplicates = 0
    analysed_at: dict[str, float] = {}
    for line in lines:
        key = line.get("correlation_id")
        if key not in uploaded:
            continue
        if line.get("message") == "image analysed":
            analysed[key] += 1
            claimed[key] += 1
            analysed_at[key] = log_time(line)
        elif "transient failure" in str(line.get("message")):
            if BUSY in str(line.get("reason")):
                busy[key] += 1
            else:
                claimed[key] += 1
        elif line.get("outcome") == "duplicate":
            acknowledged_duplicates += 1
    twice = {k: n for k, n in analysed.items() if n > 1}
    assert not twice, f"images analysed more than once: {twice}"
    unlogged = committed_unlogged(pipeline, run, set(final) & uploaded - set(analysed))
    assert set(analysed) | unlogged == set(final) & uploaded, (
        "every final image was analysed once, none in the DLQ"
    )
    assert acknowledged_duplicates >= len(run.after_sent_at), (
        f"{acknowledged_duplicates} duplicate deliveries acknowledged, {len(run.after_sent_at)} late copies sent"
    )
    orphaned = run.orphaned
    versions: Counter[str] = Counter()
    for page in pipeline.stack.s3.get_paginator("list_object_versions").paginate(
        Bucket=pipeline.stack.bucket, Prefix=pipeline.settings.output_prefix
    ):
        versions.update(v["Key"] for v in page.get("Versions", []))
    for key in final:
        for name in (pipeline.layout.json_key(key), pipeline.layout.text_key(key)):
            allowed = 2 if key in orphaned else 1  # the dead invocation may have written first
            assert 1 <= versions[name] <= allowed, f"{name} written {versions[name]} time(s)"

    # ---- AI calls: duplicates cost none ----------------------------------------------------------
    calls = pipeline.double.calls
    ok: dict[str, Counter[str]] = defaultdict(Counter)  # key -> operation -> successful calls
    outcomes = Counter(c["outcome"] for c in calls)
    for call in calls:
        key = image_of(call)
        if key is None:
            continue
        if call["outcome"] == "OK":
            ok[key][call["operation"]] += 1
        if key in run.after_sent_at:
            assert call["timestamp"] < run.after_sent_at[key], (
                f"AI call about {key} after its late copy: {call}"
            )
    spent_on_duplicates = 0
    for key in uploaded:
        # The killed invocation's attempt left no log line but may have made calls.
        allowed = claimed[key] + (1 if key in orphaned or key in unlogged else 0)
        for operation in AI_OPERATIONS:
            spent_on_duplicates += max(0, ok[key][operation] - allowed)
            if key in final:
                assert ok[key][operation] >= 1, f"{key} is complete without a successful {operation}"
            if allowed == 1 and key in final:
                assert ok[key][operation] == 1, f"{key}: {ok[key][operation]} successful {operation} calls"
    assert spent_on_duplicates == 0, f"{spent_on_duplicates} AI call(s) spent on duplicate deliveries"

    # ---- the kill: the dead sandbox's claim was taken over once its lease ran out -----------------
    assert orphaned, f"no kill caught a worker in the middle of an image: {run.kills}"
    lease = pipeline.settings.claim_timeout_s
    for key, claimed_at in orphaned.items():
        assert key in final or key in dead, key
        if key in analysed_at:
            assert analysed_at[key] >= iso_time(claimed_at) + lease, (
                f"{key} taken over before its lease ran out"
            )
    replacements = {kill.replacement for kill in run.kills}
    assert [line for line in lines if line.get("function_name") in replacements], "the new sandbox never ran"

    # ---- summary ---------------------------------------------------------------------------------
    message_retries = sum(claimed.values()) - sum(analysed.values())
    client_retries = sum(n for outcome, n in outcomes.items() if outcome != "OK")
    assert message_retries >= 20, f"only {message_retries} SQS-level retries: the faults did not test them"
    summary = {
        "uploaded": len(uploaded),
        "complete": statuses[ImageStatus.COMPLETE],
        "partial": statuses[ImageStatus.PARTIAL],
        "failed": statuses[ImageStatus.FAILED],
        "in the DLQ": len(dead),
        "duplicate deliveries sent": f"{len(run.duplicates_before) + len(run.after_sent_at)} "
        f"({len(run.duplicates_before)} at upload, {len(run.after_sent_at)} after analysis)",
        "deliveries acknowledged as duplicates": acknowledged_duplicates,
        "deliveries refused as busy (another invocation had the image)": sum(busy.values()),
        "AI calls": f"{len(calls)} {dict(outcomes)}",
        "AI calls spent on duplicate deliveries": spent_on_duplicates,
        "SQS-level retries (claimed attempts that failed)": message_retries,
        "AI call attempts that failed (retried by botocore or SQS)": client_retries,
        "workers killed": ", ".join(
            f"{k.worker} (orphaned claims {sorted(k.orphaned or {})}, replaced by {k.replacement})"
            for k in run.kills
        ),
        "runtime": f"{runtime:.0f} s",
    }
    with capsys.disabled():
        print("\n  soak summary:\n" + "\n".join(f"    {name}: {value}" for name, value in summary.items()))
