"""The emulated stack: moto's S3, SQS and DynamoDB on loopback, built from the StackSpec, and (with
embeddings on) imgpipe's own S3 Vectors server (imgpipe/local/vectors.py: moto has none).

Both keep state in memory, so the local state directory holds a snapshot (objects by content hash,
table items and vectors as JSON lines) that the next run restores before notifications are switched
on: restoring never triggers the pipeline, and done images are not analysed again.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import shutil
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from image_analysis.domain import table as t

from ..objects import list_keys, queue_depth

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer
from .stackspec import LOCAL_REGION, StackSpec, arn, physical_name, queue_url
from .vectors import SNAPSHOT_FILE as VECTORS_FILE
from .vectors import VectorServer

FAKE_KEY = "local"  # moto accepts any credentials; these never leave the machine


@dataclass
class LocalStack:
    """Handles on the emulated resources of one run."""

    endpoint: str
    spec: StackSpec
    s3: Any
    sqs: Any
    dynamodb: Any
    vectors: VectorServer | None = None  # the S3 Vectors server, while the template has an index

    @property
    def vectors_endpoint(self) -> str | None:
        return self.vectors.endpoint if self.vectors else None

    @property
    def bucket(self) -> str:
        return physical_name(self.spec.bucket_logical_id)

    @property
    def table(self) -> str:
        return physical_name(self.spec.table_logical_id)

    @property
    def queue_url(self) -> str:
        return queue_url(self.endpoint, self.spec.source_queue_logical_id)

    @property
    def dead_letter_queue_url(self) -> str | None:
        dlq = self.spec.queues[self.spec.source_queue_logical_id].dead_letter_logical_id
        return queue_url(self.endpoint, dlq) if dlq else None

    def queue_depth(self, url: str) -> int:
        return queue_depth(self.sqs, url)


@contextmanager
def running_stack(
    spec: StackSpec, snapshot_dir: Path | None, endpoint: str | None = None, port: int = 0
) -> Iterator[LocalStack]:
    """Start moto, build the stack's resources, restore the snapshot, then enable notifications.

    With `endpoint`, the resources are built on an emulator that runs elsewhere (e.g. `python -m
    imgpipe.local.emulator` in its own process, as the end-to-end tests do) and nothing is reset
    there: it must not hold this stack's resources yet. Without it, moto runs in this process, on
    `port` (0: a free one).
    """
    vectors = VectorServer().start() if spec.vector_index_logical_id else None
    try:
        if endpoint is not None:
            yield _build(endpoint, spec, snapshot_dir, vectors)
            return
        server = start_server(port)
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            # moto's backends are per process: start from nothing even if this process ran a stack before.
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
            yield _build(endpoint, spec, snapshot_dir, vectors)
        finally:
            server.stop()
    finally:
        if vectors is not None:
            vectors.stop()


def start_server(port: int = 0) -> ThreadedMotoServer:
    """moto's server on loopback in this process, with S3's delete-marker events (see below)."""
    from moto.server import ThreadedMotoServer  # the `local` extra: operator commands need no moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emulate_delete_marker_events()
    serialize_dynamodb_requests()
    serialize_sqs_requests()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def emulate_delete_marker_events() -> None:
    """Make moto notify `s3:ObjectRemoved:DeleteMarkerCreated` as S3 does.

    The stack's bucket is versioned, so removing an image creates a delete marker; S3 reports that
    as ObjectRemoved:DeleteMarkerCreated (which the stack's `s3:ObjectRemoved:*` subscription
    covers), but moto sends no event at all, so a local removal never cleaned up its results.
    Idempotent; patches moto in this process only.
    """
    from moto.s3 import notifications
    from moto.s3.models import S3Backend

    original = S3Backend._set_delete_marker
    if getattr(original, "_imgpipe_notifies", False):
        return

    def _set_delete_marker(self: Any, bucket_name: str, key_name: str) -> Any:
        marker = original(self, bucket_name, key_name)
        # Like S3's own event for a delete marker: the key and the marker's version, no size or ETag.
        removed = SimpleNamespace(name=marker.name, etag="", size=0, version_id=marker.version_id)
        notifications.send_event(
            self.account_id,
            notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT,
            self.get_bucket(bucket_name),
            removed,
        )
        return marker

    _set_delete_marker._imgpipe_notifies = True  # type: ignore[attr-defined]
    S3Backend._set_delete_marker = _set_delete_marker  # type: ignore[method-assign]


def serialize_dynamodb_requests() -> None:
    """Make moto answer DynamoDB requests one at a time, as DynamoDB's own isolation would, and keep
    a transaction's cost independent of the table's size.

    moto's TransactWriteItems backs up every table it touches with a deepcopy before applying the
    transaction. On the threaded server a concurrent write changed the table mid-copy and the
    transaction failed with a 500 ("dictionary changed size during iteration") that DynamoDB never
    returns, so concurrent local workers retried healthy images; and the copy of the whole table made
    each image's final write slower as the table grew (0.2 s at 5,000 items). Requests now take a
    lock, and a transaction of Puts, Deletes and ConditionChecks (which replace or remove whole items,
    never change one in place) backs up only the table's item index. Idempotent; patches moto in this
    process only.
    """
    import copy
    from collections import defaultdict

    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action
    if getattr(call_action, "_imgpipe_serialized", False):
        return
    lock = threading.Lock()
    shallow = threading.local()  # set while a transaction without in-place updates runs

    def serialized(self: Any) -> Any:
        with lock:
            return call_action(self)

    class _Copy:
        """moto's models module reaches deepcopy through its `copy` global; only Table backups change."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if getattr(shallow, "on", False) and isinstance(value, Table) and value.stream_shard is None:
                backup = copy.copy(value)
                backup.items = defaultdict(dict)
                for hash_key, entry in value.items.items():
                    backup.items[hash_key] = dict(entry) if isinstance(entry, dict) else entry
                return backup
            return copy.deepcopy(value, memo)

    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        shallow.on = not any("Update" in item for item in transact_items)
        try:
            return transact(self, transact_items)
        finally:
            shallow.on = False

    serialized._imgpipe_serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = serialized  # type: ignore[method-assign]
    dynamodb_models.copy = _Copy()  # type: ignore[assignment,attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


SQS_MUTATIONS = (
    "send_message",
    "send_message_batch",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
)


def serialize_sqs_requests() -> None:
    """Make moto's queues lose no message under concurrent requests, as SQS never does.

    moto's DeleteMessage rebuilds the queue's message list from a copy: a message sent meanwhile (an S3
    notification, a re-queued record) was appended to the old list and silently lost, and a second
    concurrent delete could bring a deleted message back. The soak lost uploads that way on a busy
    machine (no record, nothing in the queue or the DLQ). Changes to a queue now take one lock;
    ReceiveMessage takes it for each look at the queue and long-polls outside it, so a waiting
    receiver never holds up a sender. Idempotent; patches moto in this process only.
    """
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.receive_message, "_imgpipe_serialized", False):
        return
    lock = threading.RLock()

    def locked(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return call

    for name in SQS_MUTATIONS:
        setattr(SQSBackend, name, locked(getattr(SQSBackend, name)))
    receive = SQSBackend.receive_message

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with lock:
                found = receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            self.get_queue(queue_name).wait_for_messages(min(1.0, left))

    receive_message._imgpipe_serialized = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def _build(
    endpoint: str, spec: StackSpec, snapshot_dir: Path | None, vectors: VectorServer | None = None
) -> LocalStack:
    stack = _connect(endpoint, spec)
    stack.vectors = vectors
    _create_queues(stack)
    _create_table(stack)
    _create_bucket(stack)
    _create_vector_index(stack)
    if snapshot_dir is not None:
        restore(stack, snapshot_dir)
    _enable_notifications(stack)
    return stack


def clients(endpoint: str) -> dict[str, Any]:
    config = Config(retries={"total_max_attempts": 3, "mode": "standard"})
    session = boto3.session.Session(
        aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=LOCAL_REGION
    )
    return {
        name: session.client(name, endpoint_url=endpoint, config=config) for name in ("s3", "sqs", "dynamodb")
    }


def _connect(endpoint: str, spec: StackSpec) -> LocalStack:
    made = clients(endpoint)
    return LocalStack(endpoint=endpoint, spec=spec, s3=made["s3"], sqs=made["sqs"], dynamodb=made["dynamodb"])


def _create_queues(stack: LocalStack) -> None:
    # Dead-letter queues first: a redrive policy names its target by ARN.
    queues = sorted(stack.spec.queues.values(), key=lambda q: q.dead_letter_logical_id is not None)
    for queue in queues:
        attributes = {"VisibilityTimeout": str(queue.visibility_timeout_s)}
        if queue.retention_s:
            attributes["MessageRetentionPeriod"] = str(queue.retention_s)
        if queue.dead_letter_logical_id and queue.max_receive_count:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": arn(stack.spec, queue.dead_letter_logical_id),
                    "maxReceiveCount": queue.max_receive_count,
                }
            )
        stack.sqs.create_queue(QueueName=physical_name(queue.logical_id), Attributes=attributes)


def _create_table(stack: LocalStack) -> None:
    props = stack.spec.table_properties
    request: dict[str, Any] = {
        "TableName": stack.table,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
            for index in props["GlobalSecondaryIndexes"]
        ]
    stack.dynamodb.create_table(**request)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        stack.dynamodb.update_time_to_live(
            TableName=stack.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


def _create_bucket(stack: LocalStack) -> None:
    stack.s3.create_bucket(Bucket=stack.bucket)
    if stack.spec.versioned:
        stack.s3.put_bucket_versioning(Bucket=stack.bucket, VersioningConfiguration={"Status": "Enabled"})


def vectors_client(stack: LocalStack) -> Any:
    """A boto3 s3vectors client of the local S3 Vectors server (None with embeddings off)."""
    if stack.vectors_endpoint is None:
        return None
    return boto3.client(
        "s3vectors",
        endpoint_url=stack.vectors_endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
    )


def _create_vector_index(stack: LocalStack) -> None:
    """The template's vector bucket and index, as CloudFormation would create them."""
    index = stack.spec.vector_index
    client = vectors_client(stack)
    if index is None or client is None:
        return
    client.create_vector_bucket(vectorBucketName=index.bucket)
    client.create_index(
        vectorBucketName=index.bucket,
        indexName=index.index,
        dataType=index.data_type,
        dimension=index.dimension,
        distanceMetric=index.distance_metric,
        metadataConfiguration={"nonFilterableMetadataKeys": list(index.non_filterable)},
    )


def _enable_notifications(stack: LocalStack) -> None:
    configurations = []
    for notification in stack.spec.notifications:
        rules = [
            {"Name": name, "Value": value}
            for name, value in (("prefix", notification.prefix), ("suffix", notification.suffix))
            if value
        ]
        config: dict[str, Any] = {
            "QueueArn": arn(stack.spec, notification.queue_logical_id),
            "Events": list(notification.events),
        }
        if rules:
            config["Filter"] = {"Key": {"FilterRules": rules}}
        configurations.append(config)
    stack.s3.put_bucket_notification_configuration(
        Bucket=stack.bucket, NotificationConfiguration={"QueueConfigurations": configurations}
    )


# --- snapshot ---------------------------------------------------------------------------------


def save(stack: LocalStack, snapshot_dir: Path) -> None:
    """Write every current object (by content hash) and every table item to snapshot_dir.

    Written beside the old snapshot and swapped in at the end, so an interrupted save leaves the
    previous snapshot whole.
    """
    final_dir = snapshot_dir
    snapshot_dir = snapshot_dir.with_name(snapshot_dir.name + ".new")
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    objects_dir = snapshot_dir / "objects"
    objects_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, str] = {}
    headers: dict[str, dict[str, Any]] = {}  # key -> user metadata and content type, when set
    for key in list_keys(stack.s3, stack.bucket):
        response = stack.s3.get_object(Bucket=stack.bucket, Key=key)
        body = response["Body"].read()
        digest = hashlib.sha256(body).hexdigest()
        (objects_dir / digest).write_bytes(body)  # content-addressed: no key ever becomes a path
        manifest[key] = digest
        if response.get("Metadata"):  # e.g. the sha256 `imgpipe upload` compares to skip unchanged files
            headers[key] = {"Metadata": response["Metadata"], "ContentType": response.get("ContentType")}
    (snapshot_dir / "objects.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    (snapshot_dir / "headers.json").write_text(json.dumps(headers, indent=1, ensure_ascii=False))
    with (snapshot_dir / "table.jsonl").open("w") as out:
        for item in scan(stack.dynamodb, stack.table):
            # Binary attributes (the compressed analysis cache) are stored as base64.
            out.write(json.dumps(item, default=lambda b: base64.b64encode(b).decode()) + "\n")
    if stack.dead_letter_queue_url:  # what exhausted its retries stays visible to `imgpipe stats`
        bodies = [m["Body"] for m in peek_messages(stack.sqs, stack.dead_letter_queue_url)]
        (snapshot_dir / "dead_letters.json").write_text(json.dumps(bodies, indent=1, ensure_ascii=False))
    if stack.vectors is not None:
        stack.vectors.store.save(snapshot_dir)
    elif (final_dir / VECTORS_FILE).exists():  # a run without the index (other --context) keeps them
        shutil.copy2(final_dir / VECTORS_FILE, snapshot_dir / VECTORS_FILE)
    shutil.rmtree(final_dir, ignore_errors=True)
    snapshot_dir.rename(final_dir)


def restore(stack: LocalStack, snapshot_dir: Path) -> int:
    """Put back objects and items from an earlier run; returns how many objects came back."""
    manifest_path = snapshot_dir / "objects.json"
    if not manifest_path.exists():
        return 0
    manifest: dict[str, str] = json.loads(manifest_path.read_text())
    headers_path = snapshot_dir / "headers.json"
    headers: dict[str, dict[str, Any]] = json.loads(headers_path.read_text()) if headers_path.exists() else {}
    new_versions: dict[str, str] = {}
    for key, digest in manifest.items():
        body = (snapshot_dir / "objects" / digest).read_bytes()
        extra = {name: value for name, value in headers.get(key, {}).items() if value}
        response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body, **extra)
        new_versions[key] = response.get("VersionId") or response["ETag"].strip('"')
    for line in (snapshot_dir / "table.jsonl").read_text().splitlines():
        item = json.loads(line)
        for value in item.values():
            if isinstance(value.get("B"), str):
                value["B"] = base64.b64decode(value["B"])
        key = item.get("image_key", {}).get("S")
        if item["sk"]["S"] == t.RESULT_SK and key in new_versions:
            # The object got a new version id when it was put back: the record describes it.
            item["version_tag"] = {"S": new_versions[key]}
        stack.dynamodb.put_item(TableName=stack.table, Item=item)
    if stack.vectors is not None:  # their version tags follow the records' (a stray vector is dropped)
        stack.vectors.store.restore(snapshot_dir, new_versions)
    dead_letters_path = snapshot_dir / "dead_letters.json"
    if stack.dead_letter_queue_url and dead_letters_path.exists():
        for body in json.loads(dead_letters_path.read_text()):
            stack.sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=body)
    return len(manifest)


def peek_messages(sqs: Any, url: str, rounds: int = 100) -> list[dict[str, Any]]:
    """The messages in a queue, looked at without taking them off it (each one once)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update((m["MessageId"], m) for m in fresh)
    return list(seen.values())


def scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item (snapshot only: analysts' queries go through the indexes)."""
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        yield from page["Items"]


def main(argv: list[str] | None = None) -> int:
    """`python -m imgpipe.local.emulator`: the emulator alone, in its own process, until SIGTERM.

    Prints its endpoint as the first line of stdout. Tests build a stack on it with
    `running_stack(spec, None, endpoint=...)`, so moto's process-wide state never mixes with theirs.
    """
    parser = argparse.ArgumentParser(description="moto's S3, SQS and DynamoDB for imgpipe (local only).")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = start_server(args.port)
    try:
        host, port = server.get_host_and_port()
        print(f"http://{host}:{port}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
