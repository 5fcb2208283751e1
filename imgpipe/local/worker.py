"""One emulated Lambda sandbox: polls the queue like Lambda's SQS event source and runs the real handler.

Each worker is its own process (as each Lambda sandbox is), started by `imgpipe local` with the
function's environment from the template. Semantics kept from Lambda:
- a batch of up to BatchSize messages becomes one SQS event for `lambda_handler`;
- with ReportBatchItemFailures, only the listed messages fail; the others are deleted;
- if the handler raises, the whole batch fails;
- a failed message stays on the queue: the function itself brings it back after a short back-off
  (RETRY_DELAY_S, which `imgpipe local` sets from `--retry-delay`); when the handler raises, the
  batch's messages come back after `--retry-delay` (AWS: the queue's visibility timeout, which
  would make a demo wait minutes); after maxReceiveCount receives they land in the DLQ.
"""

from __future__ import annotations

import argparse
import io
import signal
import sys
import traceback
from typing import Any

import boto3

from .context import InvocationContext
from .stackspec import LOCAL_REGION


def lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": LOCAL_REGION,
            }
            for m in messages
        ]
    }


def invoke(handler: Any, event: dict[str, Any], context: InvocationContext) -> tuple[set[str], bool]:
    """Run the handler; return the ids of the messages that failed, and whether it crashed."""
    all_ids = {r["messageId"] for r in event["Records"]}
    try:
        response = handler(event, context)
    except Exception:
        traceback.print_exc()
        return all_ids, True
    return {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}, False


def poll_forever(args: argparse.Namespace) -> None:
    from image_analysis.handler import lambda_handler  # the real handler, imported as Lambda would

    sqs = boto3.client("sqs")
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C reaches the whole process group; `imgpipe local` stops its workers (SIGTERM) after their batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    invocation = 0
    while not stopping:
        messages: list[dict[str, Any]] = sqs.receive_message(  # type: ignore[assignment]
            QueueUrl=args.queue_url,
            MaxNumberOfMessages=args.batch_size,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            continue
        invocation += 1
        context = InvocationContext(args.name, args.timeout, f"{args.name}-{invocation}")
        failed, crashed = invoke(lambda_handler, lambda_event(messages, args.queue_arn), context)
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=message["ReceiptHandle"])
            elif crashed:
                sqs.change_message_visibility(
                    QueueUrl=args.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=args.retry_delay,
                )
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One local Lambda sandbox for the image pipeline.")
    parser.add_argument("--name", required=True)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--queue-arn", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--timeout", type=int, required=True)
    parser.add_argument("--retry-delay", type=int, required=True)
    # One log line reaches the file as soon as it is written, as Lambda's do: a sandbox killed
    # mid-batch loses no line about the images it already finished.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    poll_forever(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
