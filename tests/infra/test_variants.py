"""Every stack knob reaches the template; destroy mode deletes data; a concrete account and region."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.templates import Synth, as_list, cfn_lint, every_policy_document, flatten, statements, synth

MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
KNOBS: dict[str, Any] = {
    "removal_policy": "destroy",
    "alarm_email": "ops@example.com",
    "input_prefix": "incoming/",
    "output_prefix": "analysed/",
    "bedrock_model_id": MODEL,
    "memory_mb": "3008",  # as `cdk deploy -c memory_mb=3008` passes it
    "timeout_s": 120,
    "max_concurrency": 20,
    "batch_size": 2,
    "log_retention_days": 7,
    "failure_rate_alarm_percent": 25,
    "daily_cost_alarm_usd": "2.5",  # as `cdk deploy -c daily_cost_alarm_usd=2.5` passes it
}


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory, environment: pytest.MonkeyPatch) -> Synth:
    environment.setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
    environment.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    return synth(tmp_path_factory.mktemp("cdk.out"), KNOBS)


def props(variant: Synth, path: str) -> dict[str, Any]:
    return dict(variant.json["Resources"][variant.logical_id(path)]["Properties"])


def test_destroy_mode_deletes_data_and_drops_deletion_protection(variant: Synth) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::KMS::Key"):
        for rid, resource in variant.resources(kind).items():
            assert resource["DeletionPolicy"] == "Delete", rid
    assert props(variant, "Storage/Results")["DeletionProtectionEnabled"] is False
    emptied = {
        flatten(r["Properties"]["BucketName"])
        for r in variant.resources("Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == {
        f"<{variant.logical_id('Storage/Images')}>",
        f"<{variant.logical_id('Storage/AccessLogs')}>",
    }
    assert props(variant, "Monitoring/AlarmTopicKey")["PendingWindowInDays"] == 7


def test_wildcard_actions_appear_only_in_cdks_bucket_emptying_grant(variant: Synth) -> None:
    """Destroy mode's auto-delete provider gets s3:List*/s3:DeleteObject* on the two buckets (CDK's grant)."""
    for rid, document in every_policy_document(variant.json):
        for s in statements(document):
            if s["Effect"] == "Allow" and any("*" in a for a in as_list(s["Action"])):
                assert "CustomS3AutoDeleteObjectsCustomResourceProviderRole" in flatten(s["Principal"]), rid


def test_alarm_email_is_subscribed(variant: Synth) -> None:
    _, subscription = variant.only("AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    assert subscription["Properties"]["TopicArn"] == {"Ref": variant.logical_id("Monitoring/AlarmTopic")}


def test_prefixes_reach_the_filter_the_permissions_and_the_function(variant: Synth) -> None:
    _, notifications = variant.only("Custom::S3BucketNotifications")
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert {r["Value"] for c in configs for r in c["Filter"]["Key"]["FilterRules"]} == {"incoming/"}
    s3 = props(variant, "Processing/S3Policy")["PolicyDocument"]
    resources = {flatten(r) for s in statements(s3) for r in as_list(s["Resource"])}
    bucket = f"<{variant.logical_id('Storage/Images')}.Arn>"
    assert resources == {bucket, f"{bucket}/incoming/*", f"{bucket}/analysed/*"}
    env = props(variant, "Processing/Function")["Environment"]["Variables"]
    assert (env["INPUT_PREFIX"], env["OUTPUT_PREFIX"]) == ("incoming/", "analysed/")


def test_a_foundation_model_id_is_allowed_in_the_stack_region_only(variant: Synth) -> None:
    [statement] = statements(props(variant, "Processing/BedrockPolicy")["PolicyDocument"])
    assert statement["Resource"] == f"arn:aws:bedrock:eu-west-1::foundation-model/{MODEL}"
    assert props(variant, "Processing/Function")["Environment"]["Variables"]["BEDROCK_MODEL_ID"] == MODEL


def test_stack_knobs_reach_the_function_queue_and_logs(variant: Synth) -> None:
    function = props(variant, "Processing/Function")
    assert (function["MemorySize"], function["Timeout"]) == (3008, 120)
    assert function["Environment"]["Variables"]["CLAIM_TIMEOUT_S"] == "180"
    assert props(variant, "Trigger/Queue")["VisibilityTimeout"] == 720
    _, mapping = variant.only("AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["BatchSize"] == 2
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 20}
    assert props(variant, "Processing/Logs")["RetentionInDays"] == 7
    [rule] = props(variant, "Storage/AccessLogs")["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 7


def test_account_and_region_come_from_the_cdk_environment(variant: Synth) -> None:
    assert (variant.stack.account, variant.stack.region) == ("111111111111", "eu-west-1")
    assert props(variant, "Monitoring/Dashboard")["DashboardName"] == "ImagePipeline-eu-west-1"
    url = flatten(variant.json["Outputs"]["DashboardUrl"]["Value"])
    assert url.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#")


def alarm(variant: Synth, name: str) -> dict[str, Any]:
    [found] = [
        a["Properties"]
        for a in variant.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"ImagePipeline.{name}"
    ]
    return dict(found)


def test_alarm_knobs_and_the_timeout_reach_the_alarms(variant: Synth) -> None:
    assert alarm(variant, "FailedImageRate")["Threshold"] == 25
    assert alarm(variant, "DailyCost")["Threshold"] == 2.5
    assert alarm(variant, "FunctionDuration")["Threshold"] == 0.8 * 120 * 1000  # ms, 80 % of timeout_s


def test_cloudwatch_publishes_for_this_account_regions_and_stacks_alarms(variant: Synth) -> None:
    expected = {
        "StringEquals": {"aws:SourceAccount": "111111111111"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:ImagePipeline.*"},
    }
    [topic_policy] = variant.resources("AWS::SNS::TopicPolicy").values()
    key_policy = props(variant, "Monitoring/AlarmTopicKey")["KeyPolicy"]
    for document in (topic_policy["Properties"]["PolicyDocument"], key_policy):
        [cloudwatch] = [
            s for s in statements(document) if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert cloudwatch["Condition"] == expected


def test_destroy_mode_template_passes_cfn_lint(variant: Synth) -> None:
    assert cfn_lint(variant.json, variant.outdir) == []
