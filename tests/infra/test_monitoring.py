"""Alarms on the right metrics into an encrypted, TLS-only topic, and a dashboard of everything."""

from __future__ import annotations

from typing import Any

import pytest
from image_analysis import telemetry

from infra.monitoring import KEY_PUBLISH_ACTIONS, OLDEST_MESSAGE_ALARM_S
from tests.infra.conftest import Synth, as_list, denies_insecure_transport, flatten, statements

APP_DIMENSIONS = [{"Name": "service", "Value": telemetry.SERVICE_NAME}]


@pytest.fixture(scope="module")
def ids(default: Synth) -> dict[str, str]:
    paths = {
        "topic": "Monitoring/AlarmTopic",
        "key": "Monitoring/AlarmTopicKey",
        "queue": "Trigger/Queue",
        "dlq": "Trigger/DeadLetterQueue",
        "function": "Processing/Function",
    }
    return {name: default.logical_id(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def alarms(default: Synth) -> dict[str, dict[str, Any]]:
    """Metric name -> alarm properties."""
    found = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in default.resources("AWS::CloudWatch::Alarm").values()
    }
    assert len(found) == len(default.resources("AWS::CloudWatch::Alarm")), "one alarm per metric"
    return found


def test_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(
    default: Synth, ids: dict[str, str]
) -> None:
    topic = default.json["Resources"][ids["topic"]]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [ids["key"], "Arn"]}
    key = default.json["Resources"][ids["key"]]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in statements(key["KeyPolicy"]) if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [sorted(as_list(s["Action"])) for s in cloudwatch] == [sorted(KEY_PUBLISH_ACTIONS)]


def test_topic_refuses_plain_http(default: Synth, ids: dict[str, str]) -> None:
    [policy] = [
        p
        for p in default.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": ids["topic"]} in p["Properties"]["Topics"]
    ]
    assert denies_insecure_transport(policy["Properties"]["PolicyDocument"])


def test_no_email_subscription_unless_configured(default: Synth) -> None:
    assert not default.resources("AWS::SNS::Subscription")


@pytest.mark.parametrize(
    ("metric", "namespace", "threshold"),
    [
        ("ApproximateNumberOfMessagesVisible", "AWS/SQS", 0),
        ("ApproximateAgeOfOldestMessage", "AWS/SQS", OLDEST_MESSAGE_ALARM_S),
        ("Errors", "AWS/Lambda", 0),
        ("Throttles", "AWS/Lambda", 0),
        (telemetry.IMAGES_FAILED, telemetry.METRICS_NAMESPACE, 0),
        (telemetry.IMAGES_PARTIAL, telemetry.METRICS_NAMESPACE, 0),
        (telemetry.CONFIGURATION_ERRORS, telemetry.METRICS_NAMESPACE, 0),
    ],
)
def test_alarm_notifies_the_topic_when_raised_and_cleared(
    alarms: dict[str, dict[str, Any]], ids: dict[str, str], metric: str, namespace: str, threshold: float
) -> None:
    alarm = alarms[metric]
    assert alarm["Namespace"] == namespace
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": ids["topic"]}]
    assert alarm["AlarmDescription"]


def test_alarms_watch_the_right_resources(alarms: dict[str, dict[str, Any]], ids: dict[str, str]) -> None:
    def dimension(metric: str) -> str:
        [d] = alarms[metric]["Dimensions"]
        return flatten(d["Value"])

    assert dimension("ApproximateNumberOfMessagesVisible") == f"<{ids['dlq']}.QueueName>"
    assert dimension("ApproximateAgeOfOldestMessage") == f"<{ids['queue']}.QueueName>"
    assert dimension("Errors") == dimension("Throttles") == f"<{ids['function']}>"
    for metric in (telemetry.IMAGES_FAILED, telemetry.IMAGES_PARTIAL, telemetry.CONFIGURATION_ERRORS):
        assert alarms[metric]["Dimensions"] == APP_DIMENSIONS
        assert alarms[metric]["Statistic"] == "Sum"


def test_dashboard_shows_throughput_latency_errors_flags_tokens_and_cost(default: Synth) -> None:
    _, dashboard = default.only("AWS::CloudWatch::Dashboard")
    body = flatten(dashboard["Properties"]["DashboardBody"])
    expected = [
        telemetry.IMAGES_COMPLETE,
        telemetry.IMAGES_PARTIAL,
        telemetry.IMAGES_FAILED,
        *(telemetry.latency_metric(a) for a in telemetry.ANALYSES),
        telemetry.IMAGE_LATENCY,
        telemetry.CONFIGURATION_ERRORS,
        telemetry.IMAGES_FLAGGED,
        telemetry.BEDROCK_INPUT_TOKENS,
        telemetry.BEDROCK_OUTPUT_TOKENS,
        telemetry.ESTIMATED_COST,
    ]
    for metric in expected:
        assert f'"{telemetry.METRICS_NAMESPACE}","{metric}","service","{telemetry.SERVICE_NAME}"' in body, (
            metric
        )
    for title in ("Images", "Latency per analysis (ms)", "Errors", "Flagged images", "Bedrock tokens"):
        assert f'"title":"{title}"' in body
    assert '"type":"alarm"' in body
