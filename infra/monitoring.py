"""Monitoring: an encrypted alarm topic, the alarms, and a dashboard.

The function's own metrics are published by Powertools in telemetry.METRICS_NAMESPACE with the
dimension `service` = telemetry.SERVICE_NAME; their names come from `image_analysis.telemetry`, the
module the function publishes with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from image_analysis import telemetry

from .config import StackConfig

POWERTOOLS_DIMENSION: Final = "service"
PERIOD: Final = Duration.minutes(5)
OLDEST_MESSAGE_ALARM_S: Final = 3600  # an image waiting an hour means the pipeline is stuck or far behind

# Key policy without wildcard actions. The account (through IAM) may administer the key and use it
# to publish; CloudFormation needs exactly these administrative actions to create, update, rotate
# and delete it, and PutKeyPolicy keeps the key manageable (no lock-out).
KEY_ADMIN_ACTIONS: Final = tuple(
    f"kms:{action}"
    for action in (
        "DescribeKey", "GetKeyPolicy", "PutKeyPolicy", "GetKeyRotationStatus", "EnableKeyRotation",
        "DisableKeyRotation", "ListKeyRotations", "EnableKey", "DisableKey", "UpdateKeyDescription",
        "ListResourceTags", "TagResource", "UntagResource", "ScheduleKeyDeletion", "CancelKeyDeletion",
    )
)  # fmt: skip
# What a publisher to an encrypted topic needs: SNS encrypts each message with a data key.
KEY_PUBLISH_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    metric: cloudwatch.IMetric
    threshold: float


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        function: lambda_.Function,
        queue: sqs.Queue,
        dead_letter_queue: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._topic(config)
        self.alarms = [self._alarm(spec) for spec in alarm_specs(function, queue, dead_letter_queue)]
        self.dashboard = self._dashboard(function, queue, dead_letter_queue)

    def _topic(self, config: StackConfig) -> sns.Topic:
        # CloudWatch can publish to an encrypted topic only with a customer managed key whose policy
        # lets it use the key (the AWS managed aws/sns key does not).
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the image pipeline's alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY if config.destroy else RemovalPolicy.RETAIN,
            pending_window=Duration.days(7),
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="AccountAdministersAndPublishes",
                        principals=[iam.AccountRootPrincipal()],
                        actions=[*KEY_ADMIN_ACTIONS, *KEY_PUBLISH_ACTIONS],
                        resources=["*"],  # in a key policy, "*" is this key
                    ),
                    iam.PolicyStatement(
                        sid="CloudWatchAlarmsPublish",
                        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                        actions=list(KEY_PUBLISH_ACTIONS),
                        resources=["*"],
                    ),
                ]
            ),
        )
        topic = sns.Topic(
            self, "AlarmTopic", display_name="Image pipeline alarms", master_key=key, enforce_ssl=True
        )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

    def _alarm(self, spec: AlarmSpec) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            spec.name,
            alarm_description=spec.description,
            metric=spec.metric,
            threshold=spec.threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # No data means no traffic, which is healthy.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm

    def _dashboard(
        self, function: lambda_.Function, queue: sqs.Queue, dlq: sqs.Queue
    ) -> cloudwatch.Dashboard:
        stack = Stack.of(self)
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{stack.stack_name}-{stack.region}",
            default_interval=Duration.hours(3),
        )
        outcomes = (
            telemetry.IMAGES_COMPLETE,
            telemetry.IMAGES_PARTIAL,
            telemetry.IMAGES_FAILED,
            telemetry.IMAGES_REUSED,
        )
        latency = [
            app_metric(telemetry.latency_metric(a), "p90", label=f"{a} p90") for a in telemetry.ANALYSES
        ]
        latency.append(app_metric(telemetry.IMAGE_LATENCY, "p90", label="whole image p90"))
        errors = [function.metric_errors(period=PERIOD), function.metric_throttles(period=PERIOD)]
        errors += [app_metric(n) for n in (telemetry.CONFIGURATION_ERRORS, telemetry.TRANSIENT_FAILURES)]
        backlog = [
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, label="waiting"),
            dlq.metric_approximate_number_of_messages_visible(period=PERIOD, label="dead letters"),
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, label="oldest (s)"),
        ]
        tokens = [app_metric(telemetry.BEDROCK_INPUT_TOKENS), app_metric(telemetry.BEDROCK_OUTPUT_TOKENS)]
        dashboard.add_widgets(
            _graph("Images", [app_metric(name) for name in outcomes]),
            _graph("Latency per analysis (ms)", latency),
        )
        dashboard.add_widgets(_graph("Errors", errors), _graph("Queue", backlog))
        dashboard.add_widgets(
            _graph("Flagged images", [app_metric(telemetry.IMAGES_FLAGGED)], width=8),
            _graph("Bedrock tokens", tokens, width=8),
            _graph("Estimated cost (USD)", [app_metric(telemetry.ESTIMATED_COST)], width=8),
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard


def alarm_specs(function: lambda_.Function, queue: sqs.Queue, dlq: sqs.Queue) -> list[AlarmSpec]:
    minute = Duration.minutes(1)
    return [
        AlarmSpec(
            "DeadLetters",
            "Messages in the dead-letter queue: images failed every attempt (inspect, fix, redrive)",
            dlq.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
            0,
        ),
        AlarmSpec(
            "OldestMessage",
            f"An image waited over {OLDEST_MESSAGE_ALARM_S // 60} minutes: the pipeline is stuck or behind",
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            OLDEST_MESSAGE_ALARM_S,
        ),
        AlarmSpec(
            "FunctionErrors", "The function crashed or timed out", function.metric_errors(period=PERIOD), 0
        ),
        AlarmSpec(
            "FunctionThrottles", "The function was throttled", function.metric_throttles(period=PERIOD), 0
        ),
        AlarmSpec("ImagesFailed", "Images failed analysis", app_metric(telemetry.IMAGES_FAILED), 0),
        AlarmSpec("ImagesPartial", "Images analysed only in part", app_metric(telemetry.IMAGES_PARTIAL), 0),
        AlarmSpec(
            "ConfigurationErrors",
            "The function is misconfigured (settings, permissions or model access)",
            app_metric(telemetry.CONFIGURATION_ERRORS),
            0,
        ),
    ]


def app_metric(name: str, statistic: str = "Sum", label: str | None = None) -> cloudwatch.Metric:
    """A metric the function publishes through Powertools."""
    return cloudwatch.Metric(
        namespace=telemetry.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={POWERTOOLS_DIMENSION: telemetry.SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int = 12) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=6)
