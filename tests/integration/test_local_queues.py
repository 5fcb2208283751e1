"""`imgpipe local`'s queues lose no message under concurrent senders and deleters (moto's own do: see
imgpipe.local.emulator.serialize_sqs_requests). moto's SQS backend in this process, with threads."""

from __future__ import annotations

import threading
import time
import uuid

from moto.sqs.models import sqs_backends

from imgpipe.local.emulator import serialize_sqs_requests

MESSAGES = 3000
RECEIVERS = 3
# moto walks the whole queue on every request, so on a loaded machine this takes minutes: a message must
# never become visible again merely because its receiver waited that long for the lock to delete it.
VISIBILITY_S = 1800
DRAIN_S = 600


def test_messages_sent_while_others_are_deleted_are_all_delivered_once_and_none_comes_back() -> None:
    # Given the local stack's patched moto, and a queue
    serialize_sqs_requests()
    backend = sqs_backends["123456789012"]["us-east-1"]
    name = f"race-{uuid.uuid4().hex[:8]}"
    queue = backend.create_queue(name)
    received: list[str] = []
    errors: list[str] = []
    done = threading.Event()

    def receive_and_delete() -> None:
        while not done.is_set() or queue.messages:
            for message in backend.receive_message(name, 10, 0, VISIBILITY_S):
                received.append(message.body)
                try:
                    backend.delete_message(name, message.receipt_handle)
                except Exception as exc:  # a deleted message that came back, or a lost handle
                    errors.append(repr(exc))

    # When one thread sends while three receive and delete, as S3 notifications and workers do
    receivers = [threading.Thread(target=receive_and_delete) for _ in range(RECEIVERS)]
    for thread in receivers:
        thread.start()
    for number in range(MESSAGES):
        backend.send_message(name, f"m{number}")
    done.set()
    deadline = time.monotonic() + DRAIN_S
    for thread in receivers:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    # Then every message was received exactly once, and none is left or came back
    assert sorted(received) == sorted(f"m{n}" for n in range(MESSAGES))
    assert queue._messages == [] and errors == []
