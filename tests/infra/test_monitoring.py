"""Alarms on the right metrics into an encrypted, TLS-only topic CloudWatch may publish to (for this
stack's alarms only), and a dashboard of everything."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from image_analysis.domain import telemetry

from infra.config import StackConfig
from infra.monitoring import FAILURE_RATE_MIN_IMAGES, KEY_PUBLISH_ACTIONS, OLDEST_MESSAGE_ALARM_S
from tests.infra.templates import Synth, as_list, denies_insecure_transport, flatten, statements

APP_DIMENSIONS = [{"Name": "service", "Value": telemetry.SERVICE_NAME}]
PREFIX = "ImagePipeline."  # the stack's name and a character no stack name contains
# Where CloudWatch says an alarm notification comes from, and what the policies must allow.
ALARM_ARN = "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{}"
THIS_ACCOUNT = {"Ref": "AWS::AccountId"}


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
    """Alarm name -> alarm properties."""
    found = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in default.resources("AWS::CloudWatch::Alarm").values()
    }
    assert len(found) == len(default.resources("AWS::CloudWatch::Alarm")), "alarm names are unique"
    return found


def topic_policy(default: Synth, ids: dict[str, str]) -> dict[str, Any]:
    [policy] = [
        p
        for p in default.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": ids["topic"]} in p["Properties"]["Topics"]
    ]
    return dict(policy["Properties"]["PolicyDocument"])


def cloudwatch_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in statements(document) if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]


def only_this_stacks_alarms(statement: dict[str, Any], alarm_names: list[str]) -> None:
    """The statement holds for this account's alarms of this stack: all of them, and no others."""
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": THIS_ACCOUNT}
    pattern = flatten(condition["ArnLike"]["aws:SourceArn"])
    assert pattern == ALARM_ARN.format(f"{PREFIX}*")
    for name in alarm_names:  # otherwise that alarm's notifications would be refused
        assert fnmatchcase(ALARM_ARN.format(name), pattern), name
    for foreign in ("ImagePipeline-Staging.DeadLetters", "ImagePipelineDev.DeadLetters", "Billing"):
        assert not fnmatchcase(ALARM_ARN.format(foreign), pattern), foreign


def test_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use_for_these_alarms(
    default: Synth, ids: dict[str, str], alarms: dict[str, dict[str, Any]]
) -> None:
    topic = default.json["Resources"][ids["topic"]]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [ids["key"], "Arn"]}
    key = default.json["Resources"][ids["key"]]["Properties"]
    assert key["EnableKeyRotation"] is True
    [cloudwatch] = cloudwatch_statements(key["KeyPolicy"])
    assert cloudwatch["Effect"] == "Allow"
    assert sorted(as_list(cloudwatch["Action"])) == sorted(KEY_PUBLISH_ACTIONS)
    only_this_stacks_alarms(cloudwatch, list(alarms))


def test_cloudwatch_may_publish_to_the_topic_for_these_alarms_only(
    default: Synth, ids: dict[str, str], alarms: dict[str, dict[str, Any]]
) -> None:
    """enforce_ssl's topic policy replaces SNS's default one, so CloudWatch needs its own Allow."""
    document = topic_policy(default, ids)
    allows = [s for s in statements(document) if s["Effect"] == "Allow"]
    assert allows == cloudwatch_statements(document), "CloudWatch is the only publisher allowed"
    [allow] = allows
    assert as_list(allow["Action"]) == ["sns:Publish"]
    assert allow["Resource"] == {"Ref": ids["topic"]}
    only_this_stacks_alarms(allow, list(alarms))


def test_every_alarm_is_named_after_the_stack(alarms: dict[str, dict[str, Any]]) -> None:
    assert all(name.startswith(PREFIX) for name in alarms), list(alarms)


def test_topic_refuses_plain_http(default: Synth, ids: dict[str, str]) -> None:
    assert denies_insecure_transport(topic_policy(default, ids))


def test_no_email_subscription_unless_configured(default: Synth) -> None:
    assert not default.resources("AWS::SNS::Subscription")


DEFAULTS = StackConfig()


@pytest.mark.parametrize(
    ("name", "metric", "namespace", "threshold"),
    [
        ("DeadLetters", "ApproximateNumberOfMessagesVisible", "AWS/SQS", 0),
        ("OldestMessage", "ApproximateAgeOfOldestMessage", "AWS/SQS", OLDEST_MESSAGE_ALARM_S),
        ("FunctionErrors", "Errors", "AWS/Lambda", 0),
        ("FunctionThrottles", "Throttles", "AWS/Lambda", 0),
        # p99 duration over 80 % of the timeout, in milliseconds
        ("FunctionDuration", "Duration", "AWS/Lambda", 0.8 * DEFAULTS.timeout_s * 1000),
        ("FailedImageRate", None, None, DEFAULTS.failure_rate_alarm_percent),
        ("DailyCost", telemetry.ESTIMATED_COST, telemetry.METRICS_NAMESPACE, DEFAULTS.daily_cost_alarm_usd),
        ("ConfigurationErrors", telemetry.CONFIGURATION_ERRORS, telemetry.METRICS_NAMESPACE, 0),
    ],
)
def test_alarm_notifies_the_topic_when_raised_and_cleared(
    alarms: dict[str, dict[str, Any]],
    ids: dict[str, str],
    name: str,
    metric: str | None,
    namespace: str | None,
    threshold: float,
) -> None:
    alarm = alarms[PREFIX + name]
    assert alarm.get("MetricName") == metric
    assert alarm.get("Namespace") == namespace
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": ids["topic"]}]
    assert alarm["AlarmDescription"]


def test_single_image_outcomes_do_not_page_on_their_own(alarms: dict[str, dict[str, Any]]) -> None:
    """Failed and partial images page only as a rate (FailedImageRate), never one by one."""
    watched = {a.get("MetricName") for a in alarms.values()}
    assert not watched & {telemetry.IMAGES_FAILED, telemetry.IMAGES_PARTIAL}


def test_alarms_watch_the_right_resources(alarms: dict[str, dict[str, Any]], ids: dict[str, str]) -> None:
    def dimension(name: str) -> str:
        [d] = alarms[PREFIX + name]["Dimensions"]
        return flatten(d["Value"])

    assert dimension("DeadLetters") == f"<{ids['dlq']}.QueueName>"
    assert dimension("OldestMessage") == f"<{ids['queue']}.QueueName>"
    assert dimension("FunctionErrors") == dimension("FunctionThrottles") == f"<{ids['function']}>"
    assert dimension("FunctionDuration") == f"<{ids['function']}>"
    assert alarms[PREFIX + "FunctionDuration"]["ExtendedStatistic"] == "p99"
    for name in ("ConfigurationErrors", "DailyCost"):
        assert alarms[PREFIX + name]["Dimensions"] == APP_DIMENSIONS
        assert alarms[PREFIX + name]["Statistic"] == "Sum"
    assert alarms[PREFIX + "DailyCost"]["Period"] == 24 * 3600


@pytest.fixture(scope="module")
def failure_rate(alarms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return alarms[PREFIX + "FailedImageRate"]


def test_failure_rate_counts_every_finished_image_over_15_minutes(failure_rate: dict[str, Any]) -> None:
    inputs = {m["Id"]: m for m in failure_rate["Metrics"] if "MetricStat" in m}
    outcomes = {
        "failed": telemetry.IMAGES_FAILED,
        "partial": telemetry.IMAGES_PARTIAL,
        "complete": telemetry.IMAGES_COMPLETE,
    }
    assert {i: m["MetricStat"]["Metric"]["MetricName"] for i, m in inputs.items()} == outcomes
    for m in inputs.values():
        assert m["MetricStat"]["Metric"]["Namespace"] == telemetry.METRICS_NAMESPACE
        assert m["MetricStat"]["Metric"]["Dimensions"] == APP_DIMENSIONS
        assert (m["MetricStat"]["Stat"], m["MetricStat"]["Period"]) == ("Sum", 15 * 60)
        assert m["ReturnData"] is False
    [expression] = [m for m in failure_rate["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True
    assert failure_rate["EvaluationPeriods"] == 1


def evaluate(expression: str, values: dict[str, float | None]) -> float:
    """CloudWatch metric math for one period, for the functions the expression uses.

    Python's arithmetic and comparison precedence is CloudWatch's; a metric without a data point in
    the period is None (FILL replaces it).
    """
    functions = {
        "IF": lambda condition, then, otherwise: then if condition else otherwise,
        "FILL": lambda value, default: default if value is None else value,
    }
    return float(eval(expression, {"__builtins__": {}, **functions}, dict(values)))


@pytest.mark.parametrize(
    ("complete", "partial", "failed", "pages"),
    [
        (None, None, 1, False),  # one bad upload, nothing else: not the pipeline's problem
        (4, None, 1, False),  # one bad upload among a few (20 %), too few images to judge
        (9, None, 1, False),  # 10 %: at the threshold, not over it
        (90, 5, 5, False),  # 10 % of a busy quarter hour
        (17, 1, 2, True),  # 15 %, partial images count too
        (16, 4, None, True),  # partial only: Bedrock or Rekognition failing for a fifth of images
        (None, None, FAILURE_RATE_MIN_IMAGES, True),  # everything fails
        (FAILURE_RATE_MIN_IMAGES, None, None, False),  # everything fine
    ],
)
def test_failure_rate_pages_on_a_share_of_enough_images_not_on_one_bad_upload(
    failure_rate: dict[str, Any], complete: int | None, partial: int | None, failed: int | None, pages: bool
) -> None:
    [expression] = [m["Expression"] for m in failure_rate["Metrics"] if "Expression" in m]
    rate = evaluate(expression, {"complete": complete, "partial": partial, "failed": failed})
    assert (rate > failure_rate["Threshold"]) is pages, rate


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
