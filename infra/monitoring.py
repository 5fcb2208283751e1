"""Monitoring: an encrypted alarm topic, the alarms, and a dashboard.

The function's own metrics are published by Powertools in telemetry.METRICS_NAMESPACE with the
dimension `service` = telemetry.SERVICE_NAME; their names come from `image_analysis.domain.telemetry`, the
module the function publishes with.

Every alarm is named `<stack name>.<alarm>` (alarm_name_prefix): the topic and key policies let
CloudWatch publish for exactly those alarms, so a notification cannot be lost to a policy that does
not name its alarm, and no other alarm can use the topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from image_analysis.domain import telemetry

from .config import StackConfig

POWERTOOLS_DIMENSION: Final = "service"
PERIOD: Final = Duration.minutes(5)
OLDEST_MESSAGE_ALARM_S: Final = 3600  # an image waiting an hour means the pipeline is stuck or far behind
# Failed and partial images are alarmed on as a share of the images finished in a window, not one by
# one: a single corrupt upload is the uploader's problem, a rising share is the pipeline's. Below
# FAILURE_RATE_MIN_IMAGES finished images in the window the share is not judged (one bad image among
# a few would already exceed any threshold); the dead-letter and configuration alarms still page.
FAILURE_RATE_WINDOW: Final = Duration.minutes(15)
FAILURE_RATE_MIN_IMAGES: Final = 10
# Warn before the function times out: invocations (p99) using more than this share of the timeout.
DURATION_ALARM_FRACTION: Final = 0.8
COST_WINDOW: Final = Duration.days(1)
# Stack names hold only letters, digits and hyphens, so no other stack's alarms share this prefix.
ALARM_NAME_SEPARATOR: Final = "."
CLOUDWATCH: Final = "cloudwatch.amazonaws.com"

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


def alarm_name_prefix(stack: Stack) -> str:
    """What every alarm name of `stack` starts with (the topic and key policies name it)."""
    return f"{stack.stack_name}{ALARM_NAME_SEPARATOR}"


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
        self.alarm_name_prefix = alarm_name_prefix(Stack.of(self))
        self.topic = self._topic(config)
        specs = alarm_specs(config, function, queue, dead_letter_queue)
        self.alarms = [self._alarm(spec) for spec in specs]
        self.dashboard = self._dashboard(function, queue, dead_letter_queue)

    def _cloudwatch_conditions(self) -> dict[str, dict[str, str]]:
        """CloudWatch acts for this account's alarms of this stack only (no confused deputy)."""
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{self.alarm_name_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return {"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": alarms}}

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
                        principals=[iam.ServicePrincipal(CLOUDWATCH)],
                        actions=list(KEY_PUBLISH_ACTIONS),
                        resources=["*"],
                        conditions=self._cloudwatch_conditions(),
                    ),
                ]
            ),
        )
        topic = sns.Topic(
            self, "AlarmTopic", display_name="Image pipeline alarms", master_key=key, enforce_ssl=True
        )
        # enforce_ssl gives the topic a policy of its own, which replaces SNS's default one: without
        # this statement CloudWatch could not publish and every alarm notification would be dropped.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=self._cloudwatch_conditions(),
            )
        )
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

    def _alarm(self, spec: AlarmSpec) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            spec.name,
            alarm_name=f"{self.alarm_name_prefix}{spec.name}",
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
        people_and_words = [app_metric(telemetry.IMAGES_WITH_PII), app_metric(telemetry.FACES_DETECTED)]
        dashboard.add_widgets(
            _graph("Images with PII, faces detected", people_and_words),
            _graph("Comprehend units", [app_metric(telemetry.COMPREHEND_UNITS)]),
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard


def alarm_specs(
    config: StackConfig, function: lambda_.Function, queue: sqs.Queue, dlq: sqs.Queue
) -> list[AlarmSpec]:
    minute = Duration.minutes(1)
    duration_threshold_ms = DURATION_ALARM_FRACTION * config.timeout_s * 1000
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
        AlarmSpec(
            "FunctionDuration",
            f"Invocations (p99) ran over {DURATION_ALARM_FRACTION:.0%} of the {config.timeout_s} s timeout: "
            "Bedrock or Rekognition are slow or retrying; timeouts (FunctionErrors) come next",
            function.metric_duration(period=PERIOD, statistic="p99"),
            duration_threshold_ms,
        ),
        AlarmSpec(
            "FailedImageRate",
            f"Over {config.failure_rate_alarm_percent}% of the images finished in "
            f"{FAILURE_RATE_WINDOW.to_minutes():.0f} minutes failed or were analysed only in part "
            f"(judged from {FAILURE_RATE_MIN_IMAGES} images on; inspect the function's warnings)",
            failure_rate_percent(),
            config.failure_rate_alarm_percent,
        ),
        AlarmSpec(
            "DailyCost",
            f"The estimated AI spend (Bedrock + Rekognition, {telemetry.ESTIMATED_COST}) over one day "
            f"exceeded {config.daily_cost_alarm_usd:g} USD (context knob daily_cost_alarm_usd)",
            app_metric(telemetry.ESTIMATED_COST, period=COST_WINDOW),
            config.daily_cost_alarm_usd,
        ),
        AlarmSpec(
            "ConfigurationErrors",
            "The function is misconfigured (settings, permissions or model access)",
            app_metric(telemetry.CONFIGURATION_ERRORS),
            0,
        ),
    ]


def app_metric(
    name: str, statistic: str = "Sum", label: str | None = None, period: Duration = PERIOD
) -> cloudwatch.Metric:
    """A metric the function publishes through Powertools."""
    return cloudwatch.Metric(
        namespace=telemetry.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={POWERTOOLS_DIMENSION: telemetry.SERVICE_NAME},
        statistic=statistic,
        period=period,
        label=label,
    )


def failure_rate_percent() -> cloudwatch.MathExpression:
    """Failed + partial images as a percentage of the images finished in FAILURE_RATE_WINDOW.

    0 while fewer than FAILURE_RATE_MIN_IMAGES finished. FILL: an outcome with no image in the
    window publishes no data point, which counts as 0 (with no data at all the alarm has none).
    """
    bad = "FILL(failed, 0) + FILL(partial, 0)"
    total = f"{bad} + FILL(complete, 0)"
    return cloudwatch.MathExpression(
        expression=f"IF(({total}) >= {FAILURE_RATE_MIN_IMAGES}, 100 * ({bad}) / ({total}), 0)",
        using_metrics={
            "failed": app_metric(telemetry.IMAGES_FAILED, period=FAILURE_RATE_WINDOW),
            "partial": app_metric(telemetry.IMAGES_PARTIAL, period=FAILURE_RATE_WINDOW),
            "complete": app_metric(telemetry.IMAGES_COMPLETE, period=FAILURE_RATE_WINDOW),
        },
        label="failed or partial images (%)",
        period=FAILURE_RATE_WINDOW,
    )


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int = 12) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=6)
