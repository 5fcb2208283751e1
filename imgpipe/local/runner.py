"""`imgpipe local`: upload files into the emulated stack, watch them flow, account for every one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
from image_analysis.adapters.dynamodb import from_item
from image_analysis.domain import table as t
from image_analysis.domain.intake import MalformedMessage, parse_body
from image_analysis.domain.models import SIMULATED_NOTICE
from image_analysis.domain.states import FINAL_STATUSES
from image_analysis.settings import Settings, env_name
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import recordview as view
from ..files import FolderScan, scan_paths
from ..objects import list_keys
from ..paths import safe_local_path
from ..target import Target
from ..uploads import Transfers, report_skipped, transfer
from . import emulator
from .emulator import LocalStack
from .stackspec import LOCAL_REGION, StackSpec, arn, resolve

AI_SWITCHES = (
    "ENABLE_LOCATION", "ENABLE_LABELS", "ENABLE_TEXT", "ENABLE_MODERATION", "ENABLE_FACES",
    "ENABLE_COMPREHENSION", "ENABLE_PEOPLE", "ENABLE_EMBEDDINGS",
)  # fmt: skip
# The model id `--simulated-ai` runs record: the simulated services accept any id, and this one says what
# answered (it changes the settings fingerprint too, so simulated analyses are never reused as real ones).
LOCAL_JOBS = 8  # files uploaded in parallel to the emulated bucket
SIMULATED_MODEL_ID = "simulated.imgpipe-ai-services-not-bedrock"
SIMULATED_BANNER = (
    "[bold yellow]SIMULATED AI: imgpipe's simulated services answer for Bedrock and Rekognition; "
    "every result they produce is marked SIMULATED."
)


@dataclass
class LocalOptions:
    paths: list[Path]
    state_dir: Path = Path(".imgpipe")
    workers: int | None = None
    use_aws_ai: bool = False
    simulated_ai: bool = False  # imgpipe's simulated AI services answer for Bedrock and Rekognition
    reset: bool = False
    serve: bool = False  # keep the stack running for the AWS CLI and SDKs until Ctrl-C
    port: int = 0  # the emulator's port (0: a free one)
    retry_delay: int = 2
    timeout_s: float = 900.0
    context: dict[str, Any] = field(default_factory=dict)


class Pipeline(Protocol):
    """What waiting for results needs: the emulated stack, or a deployed one (imgpipe.target)."""

    @property
    def sqs(self) -> Any: ...
    @property
    def dynamodb(self) -> Any: ...
    @property
    def table(self) -> str: ...
    @property
    def queue_url(self) -> str: ...
    @property
    def dead_letter_queue_url(self) -> str | None: ...
    def queue_depth(self, url: str) -> int: ...


@dataclass
class Accounting:
    uploaded: dict[str, str | None]  # key -> version tag sent this run (None: whichever is current)
    reused: list[str]  # keys already done in an earlier run
    final: dict[str, dict[str, Any]]  # key -> record
    dead_letters: set[str]

    @property
    def unaccounted(self) -> set[str]:
        return set(self.uploaded) - set(self.final) - self.dead_letters


def run_local(options: LocalOptions, console: Console) -> int:
    from ..target import local_target

    scan = scan_paths(options.paths)
    report_skipped(scan, console)
    if not scan.images and not options.serve:
        found = scan.skipped_summary() or "no files"
        console.print(f"[red]No images in {', '.join(map(str, options.paths))} ({found}).", highlight=False)
        return 2
    if options.reset:  # forget earlier runs; the demo's sample files are kept
        for part in ("snapshot", "results", "logs"):
            shutil.rmtree(options.state_dir / part, ignore_errors=True)
    console.print("Synthesizing the stack (the same app `cdk deploy` uses)…")
    with local_target(options, console, saves=True) as target:
        local = target.local
        assert local is not None  # a local target always has its run
        workers = worker_count(local.spec, options.workers)
        console.print(f"Emulated S3, SQS and DynamoDB at {local.stack.endpoint}; {workers} Lambda worker(s).")
        with target.processing():
            transfers = upload_new(target, scan, console)
            accounting = wait_for(
                target, target.settings, transfers.uploaded, transfers.unchanged, options.timeout_s, console
            )
            results_dir = export_results(target, target.settings, options.state_dir / "results")
            if scan.images:
                print_results(console, accounting, target.settings, options, results_dir)
            for relative, why in transfers.failed:
                console.print(f"[red]Failed to upload {relative}: {why}", highlight=False)
            if options.serve:
                from .serve import serve

                serve(target, local.stack.endpoint, options.state_dir, console)
                export_results(target, target.settings, results_dir)  # what arrived while serving
    return 0 if not accounting.unaccounted and not transfers.failed else 1


@contextmanager
def simulated_ai_services(wanted: bool) -> Iterator[dict[str, str] | None]:
    """imgpipe's simulated Bedrock and Rekognition, in this process, while the workers run: the
    AWS_ENDPOINT_URL_<SERVICE> variables that point the workers at them (None when not wanted)."""
    if not wanted:
        yield None
        return
    from ..simulated.ai_services import AiServicesDouble

    with AiServicesDouble() as services:
        yield services.env()


def function_environment(
    spec: StackSpec, stack: LocalStack, use_aws_ai: bool, simulated_ai: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The function's environment from the template, pointed at the emulators (and, with
    `simulated_ai`, the simulated AI services' endpoints, at those: the results then say so)."""
    env = {name: resolve(value, spec, stack.endpoint) for name, value in spec.function_environment.items()}
    env.update(
        {
            "AWS_ENDPOINT_URL_S3": stack.endpoint,
            "AWS_ENDPOINT_URL_SQS": stack.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": stack.endpoint,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", LOCAL_REGION),
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    if stack.vectors_endpoint is not None:  # imgpipe's S3 Vectors server (moto has none)
        env["AWS_ENDPOINT_URL_S3VECTORS"] = stack.vectors_endpoint
    if simulated_ai is not None:
        env.update(simulated_ai)
        env.update({env_name("simulated_ai"): "true", env_name("bedrock_model_id"): SIMULATED_MODEL_ID})
    elif not use_aws_ai:
        env.update({name: "false" for name in AI_SWITCHES})  # recorded as skipped, never invented
    return env


def people_collection(spec: StackSpec, stack: LocalStack) -> str | None:
    """The people collection the template names, or None when the people analysis is off."""
    env = spec.function_environment
    if str(env.get(env_name("enable_people"), "false")).lower() != "true":
        return None
    return resolve(env[env_name("people_collection")], spec, stack.endpoint)


def ensure_people_collection(
    spec: StackSpec, stack: LocalStack, use_aws_ai: bool, simulated_ai: Mapping[str, str] | None = None
) -> None:
    """Create the template's people collection where Rekognition answers (the stack's own job in AWS;
    locally nothing else would): AWS with --aws-ai, or the simulated services with --simulated-ai."""
    collection = people_collection(spec, stack)
    if collection is None or not (use_aws_ai or simulated_ai):
        return
    endpoint = simulated_ai["AWS_ENDPOINT_URL_REKOGNITION"] if simulated_ai else None
    region = os.environ.get("AWS_DEFAULT_REGION", LOCAL_REGION)
    client = boto3.client("rekognition", endpoint_url=endpoint, region_name=region)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_collection(CollectionId=collection)


def worker_count(spec: StackSpec, requested: int | None = None) -> int:
    """Concurrent Lambda workers: as asked, else the event source's maximum concurrency, at most 4."""
    return requested or min(4, spec.max_concurrency or 4)


@contextmanager
def running_workers(
    count: int, env: dict[str, str], stack: LocalStack, spec: StackSpec, options: LocalOptions
) -> Iterator[list[subprocess.Popen[bytes]]]:
    logs = options.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # The function's own back-off before a failed image is retried, shortened like the timeout below.
    child_env = {**os.environ, **env, env_name("retry_delay_s"): str(options.retry_delay)}
    if not options.use_aws_ai:
        child_env.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        child_env.pop("AWS_SESSION_TOKEN", None)
        child_env.pop("AWS_PROFILE", None)
    processes = []
    for number in range(count):
        command = [
            sys.executable,
            "-m",
            "imgpipe.local.worker",
            "--name",
            f"worker-{number}",
            "--queue-url",
            stack.queue_url,
            "--queue-arn",
            arn(spec, spec.source_queue_logical_id),
            "--batch-size",
            str(spec.batch_size),
            "--timeout",
            str(spec.timeout_s),
            "--retry-delay",
            str(options.retry_delay),
        ]
        with (logs / f"worker-{number}.log").open("ab") as log:  # the worker writes to its own copy
            processes.append(
                subprocess.Popen(command, env=child_env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            )
    try:
        yield processes
    finally:
        stop_processes(processes)


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker (they finish their batch), then SIGKILL what has not exited in 15 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def upload_new(target: Target, scan: FolderScan, console: Console) -> Transfers:
    """Upload the images that are new, changed, or not analysed under the current settings (the rules
    `imgpipe upload` uses: imgpipe.uploads)."""
    transfers = transfer(target, scan.images, "", LOCAL_JOBS, console)
    skipped = scan.skipped_summary()
    console.print(
        f"Uploaded {len(transfers.uploaded)} file(s)"
        + (f"; {len(transfers.unchanged)} unchanged since the last run" if transfers.unchanged else "")
        + (f"; {skipped}" if skipped else ""),
        highlight=False,
    )
    return transfers


def wait_for(
    stack: Pipeline,
    settings: Settings,
    uploaded: Mapping[str, str | None],
    reused: list[str],
    timeout_s: float,
    console: Console,
    previous: Mapping[str, str] | None = None,
) -> Accounting:
    """Wait until every key in `uploaded` has a final record (or its message is in the DLQ).

    A record counts when it is for the version tag given (None: any) and, for keys in `previous`
    (key -> the record's updated_at before the work was sent), when it was written since.
    """
    accounting = Accounting(uploaded=dict(uploaded), reused=reused, final={}, dead_letters=set())
    before = previous or {}
    deadline = time.monotonic() + timeout_s
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        task = progress.add_task("Analysing", total=len(uploaded))
        while True:
            accounting.final = final_records(stack, settings)
            done = {k for k, v in uploaded.items() if _finished(accounting.final.get(k), v, before.get(k))}
            queued = stack.queue_depth(stack.queue_url)
            if queued == 0 and len(done) < len(uploaded):
                accounting.dead_letters = dead_letter_keys(stack)
            progress.update(
                task,
                completed=len(done | (accounting.dead_letters & set(uploaded))),
                description=f"Analysing (in queue: {queued})",
            )
            if len(done) == len(uploaded) or (
                queued == 0 and set(uploaded) <= done | accounting.dead_letters
            ):
                break
            if time.monotonic() > deadline:
                console.print(
                    f"[red]Timed out after {timeout_s:.0f} s with {queued} message(s) still queued."
                )
                break
            time.sleep(0.5)
    accounting.final = {
        k: v for k, v in final_records(stack, settings).items() if k in uploaded or k in reused
    }
    return accounting


def _finished(record: dict[str, Any] | None, version_tag: str | None, updated_before: str | None) -> bool:
    if record is None or (version_tag is not None and record.get("version_tag") != version_tag):
        return False
    return updated_before is None or record.get("updated_at") != updated_before


def final_records(stack: Pipeline, settings: Settings) -> dict[str, dict[str, Any]]:
    """Finished images by key, read through the by-status index (never a Scan)."""
    found: dict[str, dict[str, Any]] = {}
    for status in FINAL_STATUSES:
        pages = stack.dynamodb.get_paginator("query").paginate(
            TableName=stack.table,
            IndexName=t.BY_STATUS.name,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": t.BY_STATUS.partition_key},
            ExpressionAttributeValues={":pk": {"S": t.status_pk(status)}},
        )
        for page in pages:
            for item in page["Items"]:
                record = from_item(item)
                found[record["image_key"]] = record
    return found


def dead_letter_keys(stack: Pipeline) -> set[str]:
    """Image keys of the messages in the DLQ (looked at without taking them off the queue)."""
    url = stack.dead_letter_queue_url
    if url is None:
        return set()
    keys: set[str] = set()
    for message in emulator.peek_messages(stack.sqs, url):
        try:
            keys |= {event.key for event in parse_body(message["Body"])}
        except MalformedMessage:
            continue
    return keys


def export_results(stack: Target, settings: Settings, folder: Path) -> Path:
    """A readable copy of every result object, at its path relative to the output prefix."""
    for key in list_keys(stack.s3, stack.bucket, settings.output_prefix):
        target = safe_local_path(folder, key[len(settings.output_prefix) :])
        if target is None:
            continue  # a key that would leave the folder is never written
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    return folder


def print_results(
    console: Console, accounting: Accounting, settings: Settings, options: LocalOptions, results_dir: Path
) -> None:
    title = "Results (SIMULATED AI: not Bedrock or Rekognition)" if options.simulated_ai else "Results"
    records = [record for _, record in sorted(accounting.final.items())]
    table = view.records_table(
        records, lambda key: key[len(settings.input_prefix) :], console.width, title=title
    )
    for key in sorted(accounting.dead_letters & set(accounting.uploaded)):
        table.add_row(key[len(settings.input_prefix) :], "in DLQ: retries exhausted; see the logs")
    console.print(table)
    console.print(f"Results: {results_dir}/ (JSON and .txt per image); logs: {options.state_dir}/logs/")
    if accounting.unaccounted:
        console.print(
            f"[red]{len(accounting.unaccounted)} image(s) not accounted for: "
            + ", ".join(sorted(accounting.unaccounted)[:10])
        )
    if options.simulated_ai:
        console.print(f"[bold yellow]{SIMULATED_NOTICE}", highlight=False)
        console.print(
            "Run with --aws-ai and AWS credentials to call Bedrock and Rekognition for real.", highlight=False
        )
    elif not options.use_aws_ai:
        console.print(
            "Bedrock and Rekognition were not called: labels, text, moderation and location are recorded "
            "as 'not analysed (switched off)', never invented. Run with --simulated-ai to see "
            "what results look like (simulated answers, marked as such), or with --aws-ai and AWS "
            "credentials to call them for real.",
            highlight=False,
        )
