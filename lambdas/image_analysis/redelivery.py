"""Amazon SQS adapter: bring a failed message back after a short, growing back-off.

With a partial batch response, Lambda leaves a failed message on the queue, where it reappears only
when the queue's visibility timeout (six times the function timeout) runs out. For a throttled call that
is far too long: the image waits half an hour and trips the oldest-message alarm. Changing the
message's visibility brings it back after RETRY_DELAY_S, doubling with each receive.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from .observability import logger

MAX_DELAY_S = 900  # 15 minutes: beyond that, the queue's own visibility timeout is as good


def delay_s(base_s: int, receive_count: int, jitter: Callable[[], float] = random.random) -> int:
    """base × 2^(receives - 1), capped, with ±20 % jitter so throttled images do not return together."""
    exponential = min(MAX_DELAY_S, base_s << min(max(0, receive_count - 1), 20))
    return max(1, min(MAX_DELAY_S, round(exponential * (0.8 + 0.4 * jitter()))))


class Backoff:
    """Collects the records of one batch that should come back soon, then changes their visibility."""

    def __init__(self, client: Any, base_s: int) -> None:
        self._client = client
        self._base_s = base_s
        self._pending: list[tuple[str, str, int]] = []  # (queue ARN, receipt handle, delay)

    def schedule(self, record: SQSRecord) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        self._pending.append(
            (record.event_source_arn, record.receipt_handle, delay_s(self._base_s, receives))
        )

    def apply(self) -> None:
        """Best effort: a message whose visibility cannot be changed still comes back, only later."""
        urls: dict[str, str] = {}
        for arn, receipt_handle, delay in self._pending:
            try:
                if arn not in urls:
                    urls[arn] = _queue_url(self._client, arn)
                self._client.change_message_visibility(
                    QueueUrl=urls[arn], ReceiptHandle=receipt_handle, VisibilityTimeout=delay
                )
            except (ClientError, BotoCoreError, ValueError) as exc:
                logger.warning(
                    "could not shorten the retry delay; the queue's timeout applies", reason=str(exc)
                )
        self._pending.clear()


def _queue_url(client: Any, arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> the queue URL (the endpoint is the client's business)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    response = client.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
    return str(response["QueueUrl"])
