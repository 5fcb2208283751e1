"""Trigger: S3 events for the input prefix -> SQS queue (with a dead-letter queue).

Only keys under the input prefix are announced, so results written under the output prefix can never
trigger the pipeline again (S3 itself has no loop guard). The queue accepts S3's messages only for
this bucket in this account (QueueDestination).
"""

from __future__ import annotations

from typing import Any, Final

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_s3 as s3_refs
from constructs import Construct

from .nag import acknowledge

# AWS's guidance for SQS -> Lambda: visibility timeout at least six times the function timeout,
# so a message is not redelivered while the function is still retrying its batch.
VISIBILITY_TIMEOUT_FACTOR: Final = 6
# Five receives before a message is parked: enough to ride out throttling and transient errors,
# few enough that a poison message reaches the DLQ (and its alarm) within hours, not days.
MAX_RECEIVE_COUNT: Final = 5
DLQ_RETENTION: Final = Duration.days(14)  # SQS's maximum: time for someone to look before it expires
EVENT_TYPES: Final = (s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED)
# The singleton Lambda CDK adds to a stack to configure bucket notifications.
_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


class Trigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.Bucket,
        input_prefix: str,
        function_timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = _queue(self, "DeadLetterQueue", retention_period=DLQ_RETENTION)
        self.queue = _queue(
            self,
            "Queue",
            visibility_timeout=Duration.seconds(function_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        destination = QueueDestination(self.queue)
        for event in EVENT_TYPES:
            bucket.add_event_notification(event, destination, s3.NotificationKeyFilter(prefix=input_prefix))
        self._acknowledge_notifications_handler()

    def _acknowledge_notifications_handler(self) -> None:
        handler = Stack.of(self).node.find_child(_NOTIFICATIONS_HANDLER)
        role = handler.node.find_child("Role")
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's bucket-notifications handler (runs only at deploy time) writes its own logs with the "
            "AWS managed basic execution policy; CDK offers no way to replace it.",
        )


def _queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    """SSE with SQS-owned keys (S3 can deliver to it without a KMS key policy), TLS-only access."""
    return sqs.Queue(
        scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **props
    )


@jsii.implements(s3.IBucketNotificationDestination)
class QueueDestination:
    """s3_notifications.SqsDestination, with the confused-deputy guard it lacks.

    SqsDestination lets s3.amazonaws.com send for the bucket's ARN only (aws:SourceArn). A bucket ARN
    names no account, so a bucket of that name in another account (after this one is deleted) could
    still send; aws:SourceAccount pins the sender to the bucket owner. Only sqs:SendMessage: S3 needs
    nothing else to deliver (or to test the destination when the notification is configured).
    """

    def __init__(self, queue: sqs.Queue) -> None:
        self.queue = queue

    def bind(self, scope: Construct, bucket: s3_refs.IBucketRef) -> s3.BucketNotificationDestinationConfig:
        # CDK calls this once per destination and bucket.
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_ref.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
                },
            )
        )
        # The notification is configured after the queue policy exists: S3 sends a test message then.
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[self.queue],
        )
