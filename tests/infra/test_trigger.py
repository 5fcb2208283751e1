"""S3 events for the input prefix only -> encrypted, TLS-only queue with a DLQ -> the function."""

from __future__ import annotations

from typing import Any

import pytest
from image_analysis.settings import defaults

from infra.trigger import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_FACTOR
from tests.infra.templates import Synth, denies_insecure_transport, flatten, statements

INPUT_PREFIX, OUTPUT_PREFIX = defaults()["input_prefix"], defaults()["output_prefix"]
FOURTEEN_DAYS_S = 14 * 24 * 3600


@pytest.fixture(scope="module")
def ids(default: Synth) -> dict[str, str]:
    return {
        "bucket": default.logical_id("Storage/Images"),
        "queue": default.logical_id("Trigger/Queue"),
        "dlq": default.logical_id("Trigger/DeadLetterQueue"),
        "function": default.logical_id("Processing/Function"),
    }


def queue(default: Synth, ids: dict[str, str], name: str) -> dict[str, Any]:
    return dict(default.json["Resources"][ids[name]]["Properties"])


def test_both_event_types_are_filtered_to_the_input_prefix(default: Synth, ids: dict[str, str]) -> None:
    _, notifications = default.only("Custom::S3BucketNotifications")
    props = notifications["Properties"]
    assert props["BucketName"] == {"Ref": ids["bucket"]}
    assert not props["NotificationConfiguration"].get("LambdaFunctionConfigurations")
    assert not props["NotificationConfiguration"].get("TopicConfigurations")
    configs = props["NotificationConfiguration"]["QueueConfigurations"]
    assert sorted(event for c in configs for event in c["Events"]) == [
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
    ]
    for config in configs:
        assert config["QueueArn"] == {"Fn::GetAtt": [ids["queue"], "Arn"]}
        assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": INPUT_PREFIX}]


def test_results_never_reach_the_queue(default: Synth) -> None:
    _, notifications = default.only("Custom::S3BucketNotifications")
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    prefixes = [
        rule["Value"]
        for c in configs
        for rule in c["Filter"]["Key"]["FilterRules"]
        if rule["Name"] == "prefix"
    ]
    assert len(prefixes) == len(configs), "every notification has a prefix filter"
    for prefix in prefixes:
        assert not OUTPUT_PREFIX.startswith(prefix), "a result key would match the filter"
        assert prefix != OUTPUT_PREFIX


def test_queue_outlasts_the_function_and_redrives_to_the_dlq(default: Synth, ids: dict[str, str]) -> None:
    timeout = default.json["Resources"][ids["function"]]["Properties"]["Timeout"]
    props = queue(default, ids, "queue")
    assert props["VisibilityTimeout"] == VISIBILITY_TIMEOUT_FACTOR * timeout
    assert props["VisibilityTimeout"] >= 6 * timeout
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [ids["dlq"], "Arn"]},
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert 3 <= MAX_RECEIVE_COUNT <= 10


def test_dead_letters_are_kept_fourteen_days(default: Synth, ids: dict[str, str]) -> None:
    props = queue(default, ids, "dlq")
    assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS_S
    assert "RedrivePolicy" not in props


@pytest.mark.parametrize("name", ["queue", "dlq"])
def test_queues_are_encrypted_and_tls_only(default: Synth, ids: dict[str, str], name: str) -> None:
    assert queue(default, ids, name)["SqsManagedSseEnabled"] is True
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in default.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": ids[name]} in p["Properties"]["Queues"]
    ]
    assert policies
    assert all(denies_insecure_transport(document) for document in policies)


def queue_policy_id(default: Synth, ids: dict[str, str]) -> str:
    [rid] = [
        rid
        for rid, p in default.resources("AWS::SQS::QueuePolicy").items()
        if {"Ref": ids["queue"]} in p["Properties"]["Queues"]
    ]
    return rid


def test_only_this_bucket_of_this_account_may_send_to_the_queue(default: Synth, ids: dict[str, str]) -> None:
    """SourceArn alone names a bucket, not its owner: SourceAccount stops a same-named bucket elsewhere."""
    policy = default.json["Resources"][queue_policy_id(default, ids)]["Properties"]["PolicyDocument"]
    allows = [s for s in statements(policy) if s["Effect"] == "Allow"]
    assert len(allows) == 1
    [allow] = allows
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"]), "S3 needs to send, nothing more"
    assert allow["Resource"] == {"Fn::GetAtt": [ids["queue"], "Arn"]}
    assert set(allow["Condition"]) == {"ArnLike", "StringEquals"}
    assert flatten(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == f"<{ids['bucket']}.Arn>"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_notifications_are_configured_after_the_queue_accepts_them(
    default: Synth, ids: dict[str, str]
) -> None:
    """S3 test-delivers to the queue when the notification is set: the queue policy must exist first."""
    _, notifications = default.only("Custom::S3BucketNotifications")
    assert queue_policy_id(default, ids) in notifications["DependsOn"]


def test_event_source_reports_partial_batches_and_caps_concurrency(
    default: Synth, ids: dict[str, str]
) -> None:
    _, mapping = default.only("AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [ids["queue"], "Arn"]}
    assert props["FunctionName"] == {"Ref": ids["function"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert props["BatchSize"] == 5
    assert "MaximumBatchingWindowInSeconds" not in props


def test_no_reserved_concurrency(default: Synth) -> None:
    for rid, function in default.resources("AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], rid
