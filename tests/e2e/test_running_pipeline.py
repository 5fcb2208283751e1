"""End-to-end tests that act while the local pipeline runs: removal, retries, the DLQ, no loops, batching.

They share one pipeline per module (see conftest.py's LocalPipeline); each test uses its own keys.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import cast

import pytest
from image_analysis.domain.states import ImageStatus

from tests.e2e.harness import HARNESS_CONTEXT, RETRY_DELAY_S, LocalPipeline, wait_until
from tests.e2e.helpers import calls_for, image

pytestmark = pytest.mark.slow


def test_removing_an_image_deletes_its_results_and_items(pipeline: LocalPipeline) -> None:
    key = pipeline.key("removal/holiday snap.jpg")
    pipeline.upload(key, image(401))
    pipeline.wait_final([key])
    assert (record := pipeline.record(key)) and record["status"] == ImageStatus.COMPLETE
    assert set(pipeline.results(key)) == {".json", ".txt"}
    assert any(i["sk"]["S"].startswith("LABEL#") for i in pipeline.items(key)), "no label items to remove"
    calls_before = len(pipeline.double.calls)

    pipeline.delete(key)

    wait_until(lambda: not pipeline.items(key), what="the image's table items to go")
    wait_until(lambda: not pipeline.results(key), what="the image's result objects to go")
    wait_until(lambda: pipeline.queue_depth() == 0, what="the removal event to be handled")
    assert pipeline.record(key) is None
    assert len(pipeline.double.calls) == calls_before, "a removal must not call the AI services"
    removals = [r for r in pipeline.log_lines() if r.get("correlation_id") == key and r.get("outcome")]
    assert [r["outcome"] for r in removals] == ["removed"]


def test_a_transient_failure_is_retried_and_recovers(pipeline: LocalPipeline) -> None:
    key = pipeline.key("transient/throttled once.jpg")
    data = image(402)
    pipeline.double.fail_next("Converse", 1, "ThrottlingException")

    pipeline.upload(key, data)
    pipeline.wait_final([key])

    record = pipeline.record(key)
    assert record and record["status"] == ImageStatus.COMPLETE, record
    assert record["location"], "the retried Bedrock call's answer is in the record"
    converse = [c for c in pipeline.double.calls if c["operation"] == "Converse"]
    # The injected fault answers before the image is read, so the failed call has no fingerprint.
    assert [c["outcome"] for c in converse] == ["ThrottlingException", "OK"]
    assert calls_for(converse, "Converse", data) == [converse[1]], "the retry sent this image"
    # Redelivered by SQS after the retry delay, not retried inside the invocation.
    assert converse[1]["timestamp"] - converse[0]["timestamp"] >= RETRY_DELAY_S * 0.9
    warnings = [r for r in pipeline.log_lines() if r.get("correlation_id") == key and r["level"] == "WARNING"]
    assert any("transient failure" in r["message"] for r in warnings), warnings
    assert key not in pipeline.dlq_keys()


def test_a_message_that_always_fails_transiently_ends_in_the_dlq(pipeline: LocalPipeline) -> None:
    source = pipeline.spec.queues[pipeline.spec.source_queue_logical_id]
    assert source.dead_letter_logical_id and source.max_receive_count, "the template has a redrive policy"
    poisoned, poisoned_data = pipeline.key("dlq/always throttled.jpg"), image(403, colour="Red")
    healthy = {pipeline.key(f"dlq/healthy-{n}.png"): image(410 + n, "PNG") for n in range(2)}
    pipeline.double.poison(poisoned_data, "DetectLabels")

    pipeline.upload(poisoned, poisoned_data)
    for key, data in healthy.items():
        pipeline.upload(key, data)
    accounting = pipeline.wait_final([poisoned, *healthy])

    assert accounting.dead_letters == {poisoned}
    assert set(accounting.final) == set(healthy)
    assert all((r := pipeline.record(k)) and r["status"] == ImageStatus.COMPLETE for k in healthy)
    record = pipeline.record(poisoned)
    assert record and record["status"] == ImageStatus.RETRYING, record  # released for a retry, never final
    assert "ThrottlingException" in record["last_error"]
    assert pipeline.results(poisoned) == {}
    # One invocation per receive, and SQS gives up after maxReceiveCount receives.
    attempts = calls_for(pipeline.double.calls, "DetectLabels", poisoned_data)
    assert len(attempts) == source.max_receive_count
    assert {c["outcome"] for c in attempts} == {"ThrottlingException"}
    for key, data in healthy.items():
        assert len(calls_for(pipeline.double.calls, "DetectLabels", data)) == 1, key


def test_results_never_trigger_the_pipeline(pipeline: LocalPipeline) -> None:
    key = pipeline.key("loop/picture.jpg")
    pipeline.upload(key, image(404))
    pipeline.wait_final([key])
    input_prefix, output_prefix = pipeline.settings.input_prefix, pipeline.settings.output_prefix
    assert not output_prefix.startswith(input_prefix) and not input_prefix.startswith(output_prefix)

    # The emulated bucket notifies for the input prefix only, as the template says.
    configuration = pipeline.stack.s3.get_bucket_notification_configuration(Bucket=pipeline.stack.bucket)
    queue_configs = configuration["QueueConfigurations"]
    assert queue_configs
    for config in queue_configs:
        rules = {r["Name"].lower(): r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}
        assert rules.get("prefix") == input_prefix, config

    # Writing under the output prefix (as the function does) enqueues nothing.
    probe = f"{output_prefix}loop/probe.jpg"
    pipeline.stack.s3.put_object(Bucket=pipeline.stack.bucket, Key=probe, Body=image(405))
    pipeline.stack.s3.delete_object(Bucket=pipeline.stack.bucket, Key=probe)
    deadline = time.monotonic() + 2 * RETRY_DELAY_S + 1
    while time.monotonic() < deadline:
        assert pipeline.queue_depth() == 0
        time.sleep(0.2)

    # And no event about a result (or anything outside the input prefix) ever reached the handler.
    lines = pipeline.log_lines()
    assert lines, "the workers log what they do"
    assert not [r for r in lines if r.get("outcome") == "ignored"]
    seen = {r["correlation_id"] for r in lines if r.get("correlation_id")}
    assert key in seen
    assert not [k for k in seen if k.startswith(output_prefix) or not k.startswith(input_prefix)]
    analysed = [r for r in lines if r.get("correlation_id") == key and r["message"] == "image analysed"]
    assert len(analysed) == 1, "the image was analysed once; its results did not bring it back"
    assert pipeline.queue_depth() == 0


def test_batch_size_and_concurrency_come_from_the_template(pipeline: LocalPipeline) -> None:
    spec = pipeline.spec
    mapping = next(
        r["Properties"]
        for r in spec.template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    )
    assert spec.batch_size == mapping["BatchSize"] == HARNESS_CONTEXT["batch_size"]
    concurrency = mapping["ScalingConfig"]["MaximumConcurrency"]
    assert spec.max_concurrency == concurrency
    assert len(pipeline.workers) == min(4, concurrency)
    for worker in pipeline.workers:
        args = [str(a) for a in cast(list[str], worker.args)]
        assert args[args.index("--batch-size") + 1] == str(spec.batch_size)
        assert args[args.index("--timeout") + 1] == str(spec.timeout_s)
    function = spec.resource(spec.function_logical_id)["Properties"]
    assert spec.timeout_s == function["Timeout"]
    assert pipeline.settings.max_attempts == HARNESS_CONTEXT["max_attempts"]

    keys = [pipeline.key(f"batching/image-{n}.jpg") for n in range(2 * spec.batch_size + 1)]
    for n, key in enumerate(keys):
        pipeline.upload(key, image(420 + n))
    pipeline.wait_final(keys)

    # Each invocation (one request id) handled at most BatchSize images.
    per_invocation: dict[str, set[str]] = defaultdict(set)
    for line in pipeline.log_lines():
        if line.get("message") == "image analysed" and line.get("correlation_id") in keys:
            per_invocation[line["function_request_id"]].add(line["correlation_id"])
    assert set().union(*per_invocation.values()) == set(keys)
    assert max(len(v) for v in per_invocation.values()) <= spec.batch_size, dict(per_invocation)
    assert len(per_invocation) >= math.ceil(len(keys) / spec.batch_size)
