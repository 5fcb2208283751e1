"""Amazon SQS adapter: change a received message's visibility, so it comes back sooner, or send a fresh
copy of it (the back-off policy itself is the batch's: batch.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class Sqs:
    """The queue calls of the function, through one client."""

    def __init__(self, client: SQSClient) -> None:
        self.client = client

    def queue_url(self, arn: str) -> str:
        """arn:aws:sqs:<region>:<account>:<name> -> the queue URL (the endpoint is the client's
        business); ValueError for anything that is not a queue ARN."""
        parts = arn.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise ValueError(f"not an SQS queue ARN: {arn!r}")
        try:
            response = self.client.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "SQS GetQueueUrl") from exc
        return str(response["QueueUrl"])

    def send_copy(self, queue_url: str, body: str, delay_s: int) -> None:
        """The same body as a new message, delivered after `delay_s` (at most 900, SQS's limit)."""
        try:
            self.client.send_message(QueueUrl=queue_url, MessageBody=body, DelaySeconds=min(900, delay_s))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "SQS SendMessage") from exc

    def change_visibility(self, queue_url: str, receipt_handle: str, timeout_s: int) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=timeout_s
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "SQS ChangeMessageVisibility") from exc
