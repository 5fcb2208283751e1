"""The end-to-end harness: the stack `imgpipe local` builds, driven from a test while it runs.

`LocalPipeline` is `imgpipe local` taken apart: the same synthesized template, StackSpec, emulated
resources and worker processes (imgpipe/local's own functions), but moto runs in its own process
(`python -m imgpipe.local.emulator`), so this pytest process' moto state (unit tests' server) is never
touched, and the AI double runs in this process, reached by the workers through
AWS_ENDPOINT_URL_BEDROCK_RUNTIME / AWS_ENDPOINT_URL_REKOGNITION only."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_analysis.adapters.dynamodb import from_item
from image_analysis.domain import table as t
from image_analysis.domain.keys import KeyLayout
from image_analysis.settings import Settings
from rich.console import Console

from imgpipe.local import emulator, runner
from imgpipe.local.emulator import LocalStack
from imgpipe.local.runner import Accounting, LocalOptions
from imgpipe.local.stackspec import StackSpec
from imgpipe.local.synth import synthesize
from imgpipe.simulated import ai_answers
from imgpipe.simulated.ai_services import AiServicesDouble, DoubleConfig, ServiceError
from tests.e2e.helpers import PROJECT_ROOT, log_lines

# One attempt per AWS call inside the function: an injected fault fails the message at once and the
# retry happens at the SQS level (botocore's own retries would otherwise absorb it). A batch size
# that is not cdk.json's shows that the workers take theirs from the template.
HARNESS_CONTEXT: dict[str, Any] = {"max_attempts": 1, "batch_size": 3}


RETRY_DELAY_S = 1


WAIT_S = 120.0  # safety net for a stuck pipeline, not a speed requirement


class TargetedDouble(AiServicesDouble):
    """The AI double, plus a fault the shared one lacks: Rekognition calls about ONE image throttle.

    `poison(image_bytes, "DetectLabels")` makes every DetectLabels call whose image matches that
    image's fingerprint fail with ThrottlingException (a transient error) after it is logged with its
    fingerprint, while calls about other images succeed, so one message can fail forever alongside
    healthy ones.
    """

    def __init__(self, config: DoubleConfig | None = None) -> None:
        super().__init__(config)
        self._poisoned: dict[str, set[str]] = {}

    def __enter__(self) -> TargetedDouble:
        self.start()
        return self

    def poison(self, image_bytes: bytes, operation: str) -> None:
        self._poisoned.setdefault(ai_answers.fingerprint(image_bytes), set()).add(operation)

    def clear_poison(self) -> None:
        self._poisoned.clear()

    def _rekognition(self, operation: str, body: bytes, call: Any, config: DoubleConfig) -> Any:
        payload = super()._rekognition(operation, body, call, config)
        seen = call["images"][0]["fingerprint"] if call["images"] else None
        for fingerprint, operations in list(self._poisoned.items()):
            if seen and operation in operations and ai_answers.fingerprints_match(seen, fingerprint):
                raise ServiceError("ThrottlingException", "Rate exceeded (poisoned image, e2e harness)")
        return payload


@dataclass
class LocalPipeline:
    """Handles on a running local pipeline, and the few verbs the tests need."""

    stack: LocalStack
    spec: StackSpec
    settings: Settings
    double: TargetedDouble
    state_dir: Path
    workers: list[subprocess.Popen[bytes]]
    uploaded: dict[str, str] = field(default_factory=dict)  # key -> version tag of the last upload
    env: dict[str, str] = field(default_factory=dict)  # the function's environment the workers run with
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)  # by start_worker(); stopped at exit

    @property
    def layout(self) -> KeyLayout:
        return KeyLayout(self.settings.input_prefix, self.settings.output_prefix)

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    def key(self, relative: str) -> str:
        return self.settings.input_prefix + relative

    def upload(self, key: str, data: bytes) -> str:
        response = self.stack.s3.put_object(Bucket=self.stack.bucket, Key=key, Body=data)
        self.uploaded[key] = response.get("VersionId") or response["ETag"].strip('"')
        return self.uploaded[key]

    def delete(self, key: str) -> None:
        self.stack.s3.delete_object(Bucket=self.stack.bucket, Key=key)

    def wait_final(self, keys: list[str], timeout: float = WAIT_S) -> Accounting:
        """runner.wait_for (what `imgpipe local` waits with): every key final or in the DLQ."""
        accounting = runner.wait_for(
            self.stack,
            self.settings,
            {k: self.uploaded[k] for k in keys},
            [],
            timeout,
            Console(file=io.StringIO()),
        )
        assert not accounting.unaccounted, f"not accounted for after {timeout} s: {accounting.unaccounted}"
        return accounting

    def record(self, key: str) -> dict[str, Any] | None:
        item = self.stack.dynamodb.get_item(
            TableName=self.stack.table,
            Key={"pk": {"S": t.image_pk(key)}, "sk": {"S": t.RESULT_SK}},
            ConsistentRead=True,
        ).get("Item")
        return from_item(item) if item else None

    def items(self, key: str) -> list[dict[str, Any]]:
        """Every table item of one image (its record and its label items)."""
        items: list[dict[str, Any]] = self.stack.dynamodb.query(
            TableName=self.stack.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": t.image_pk(key)}},
            ConsistentRead=True,
        )["Items"]
        return items

    def results(self, key: str) -> dict[str, bytes]:
        """The image's result objects that exist, by suffix ('.json', '.txt')."""
        found = {}
        for suffix in (".json", ".txt"):
            try:
                body = self.stack.s3.get_object(
                    Bucket=self.stack.bucket, Key=self.layout.result_key(key, suffix)
                )["Body"].read()
            except self.stack.s3.exceptions.NoSuchKey:
                continue
            found[suffix] = body
        return found

    def dlq_keys(self) -> set[str]:
        return runner.dead_letter_keys(self.stack)

    def queue_depth(self) -> int:
        return self.stack.queue_depth(self.stack.queue_url)

    def log_lines(self) -> list[dict[str, Any]]:
        return log_lines(self.logs)

    # --- sandboxes: what Lambda does to them (kill, replace, freeze) --------------------------------
    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        """SIGKILL one worker (a sandbox dying mid-batch): its in-flight messages stay invisible until
        the queue's visibility timeout, and its claims stay until their lease runs out."""
        worker.kill()
        worker.wait(timeout=15)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A new worker (Lambda starting a new sandbox): the first worker's command line and environment
        under a fresh name, logging to its own file; stopped when the pipeline stops."""
        names = [self._name(w) for w in (*self.workers, *self.started)]
        name = f"worker-{len(names)}"
        assert name not in names and self.env, "no worker to copy, or the harness kept no environment"
        command = [str(a) for a in self.workers[0].args]  # type: ignore[union-attr]
        command[command.index("--name") + 1] = name
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
            )
        self.started.append(process)
        return process

    @contextmanager
    def paused_workers(self) -> Iterator[None]:
        """Freeze every live worker (SIGSTOP) while the block runs, then let them go (SIGCONT): what is
        uploaded meanwhile is waiting in the queue when they resume, so batches fill up."""
        live = [w for w in (*self.workers, *self.started) if w.poll() is None]
        for worker in live:
            os.kill(worker.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for worker in live:
                os.kill(worker.pid, signal.SIGCONT)

    @staticmethod
    def _name(worker: subprocess.Popen[bytes]) -> str:
        args = [str(a) for a in worker.args]  # type: ignore[union-attr]
        return args[args.index("--name") + 1]


def wait_until(condition: Callable[[], Any], timeout: float = WAIT_S, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.25)


@contextmanager
def emulator_process() -> Iterator[str]:
    """moto (with imgpipe's delete-marker events) in its own process; yields its endpoint."""
    process = subprocess.Popen(
        [sys.executable, "-m", "imgpipe.local.emulator", "--port", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()
        assert endpoint.startswith("http://"), f"the emulator did not start (exit {process.poll()})"
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def running_local_pipeline(
    state_dir: Path,
    context: dict[str, Any] | None = None,
    config: DoubleConfig | None = None,
    retry_delay: int = RETRY_DELAY_S,
) -> Iterator[LocalPipeline]:
    """A local pipeline synthesized with `context` (default HARNESS_CONTEXT), the double configured
    with `config`, and workers that make a failed message visible again after `retry_delay` s."""
    spec = StackSpec.load(synthesize(state_dir / "cdk.out", HARNESS_CONTEXT if context is None else context))
    options = LocalOptions(paths=[], state_dir=state_dir, use_aws_ai=True, retry_delay=retry_delay)
    with (
        TargetedDouble(config) as double,
        emulator_process() as endpoint,
        emulator.running_stack(spec, None, endpoint=endpoint) as stack,
    ):
        env = {**runner.function_environment(spec, stack, use_aws_ai=True), **double.env()}
        settings = Settings.from_env(env)
        count = runner.worker_count(spec)
        with runner.running_workers(count, env, stack, spec, options) as workers:
            pipeline = LocalPipeline(stack, spec, settings, double, state_dir, workers, env=env)
            try:
                yield pipeline
            finally:
                runner.stop_processes(pipeline.started)
