"""Issue 13, item 6: the doctor's checks that moto cannot serve (Service Quotas; an SNS subscription
still pending), each with botocore's Stubber answering exactly as the service's model says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

# The CLI's code: .venv313 (the Lambda's unit tests on CPython 3.13) has the function's requirements only.
pytest.importorskip("rich", reason="needs rich, a CLI requirement, not the Lambda's")
from botocore.stub import Stubber

from imgpipe.commands.doctor import (
    CheckStatus,
    check_alarm_subscription,
    check_bootstrap,
    check_quotas,
    check_region,
    model_words,
)

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
TOPIC = "arn:aws:sns:us-east-1:123456789012:imgpipe-alarms"


def client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def quotas() -> Iterator[tuple[Any, Stubber]]:
    service = client("service-quotas")
    with Stubber(service) as stub:
        yield service, stub
        stub.assert_no_pending_responses()


def quota(name: str, value: float, code: str = "L-12345678") -> dict[str, Any]:
    return {"QuotaName": name, "Value": value, "QuotaCode": code}


def answer_quotas(stub: Stubber, lambda_value: float, rekognition: float, bedrock: float) -> None:
    stub.add_response(
        "get_service_quota",
        {"Quota": quota("Concurrent executions", lambda_value, "L-B99A9384")},
        {"ServiceCode": "lambda", "QuotaCode": "L-B99A9384"},
    )
    stub.add_response(
        "list_service_quotas",
        {
            "Quotas": [
                quota(f"Transactions per second per account for {op}", rekognition)
                for op in ("DetectLabels", "DetectText", "DetectModerationLabels")
            ]
            + [quota("Maximum number of faces per collection", 20_000_000)]
        },
        {"ServiceCode": "rekognition"},
    )
    stub.add_response(
        "list_service_quotas",
        {
            "Quotas": [
                quota(
                    "On-demand model inference requests per minute for Anthropic Claude Sonnet 4.5 V1",
                    bedrock,
                ),
                quota("On-demand model inference requests per minute for Anthropic Claude 3.5 Haiku", 1),
            ]
        },
        {"ServiceCode": "bedrock"},
    )


def test_quotas_that_fit_the_stack_pass(quotas: tuple[Any, Stubber]) -> None:
    service, stub = quotas
    answer_quotas(stub, lambda_value=1000, rekognition=50, bedrock=200)
    checks = check_quotas(service, 5, MODEL)
    assert [(c.name, c.status) for c in checks] == [
        ("Lambda concurrency", CheckStatus.OK),
        ("Rekognition DetectLabels", CheckStatus.OK),
        ("Rekognition DetectText", CheckStatus.OK),
        ("Rekognition DetectModerationLabels", CheckStatus.OK),
        ("Bedrock claude sonnet 4.5", CheckStatus.OK),
    ]
    assert "200 per minute" in checks[-1].detail and "Sonnet 4.5" in checks[-1].detail  # not Haiku's


def test_a_new_accounts_low_quotas_fail_or_warn_with_how_to_raise_them(quotas: tuple[Any, Stubber]) -> None:
    service, stub = quotas
    answer_quotas(stub, lambda_value=2, rekognition=1, bedrock=3)
    lambda_check, *rates = check_quotas(service, 5, MODEL)
    assert lambda_check.status == CheckStatus.FAILED  # the event source could not reach its concurrency
    assert (
        lambda_check.fix is not None
        and "request-service-quota-increase --service-code lambda" in lambda_check.fix
    )
    assert {c.status for c in rates} == {CheckStatus.WARNING}  # throttled images are retried
    assert all(c.fix and "Service Quotas" in c.fix for c in rates)


def test_unreadable_quotas_are_skipped_not_failed(quotas: tuple[Any, Stubber]) -> None:
    service, stub = quotas
    stub.add_client_error("get_service_quota", "AccessDeniedException", "no servicequotas:GetServiceQuota")
    stub.add_client_error(
        "list_service_quotas", "AccessDeniedException", "no servicequotas:ListServiceQuotas"
    )
    checks = check_quotas(service, 5, MODEL)
    assert {c.status for c in checks} == {CheckStatus.SKIPPED}


def test_a_pending_subscription_is_not_a_confirmed_one() -> None:
    sns = client("sns")
    with Stubber(sns) as stub:
        pending = {
            "SubscriptionArn": "PendingConfirmation",
            "Owner": "1",
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": TOPIC,
        }
        stub.add_response("list_subscriptions_by_topic", {"Subscriptions": [pending]}, {"TopicArn": TOPIC})
        check = check_alarm_subscription(sns, TOPIC)
    assert check.status == CheckStatus.FAILED and "ops@example.com" in check.detail
    assert check.fix is not None and "click the link" in check.fix


def test_a_bootstrap_stack_without_its_version_parameter_is_a_warning() -> None:
    ssm, cloudformation = client("ssm"), client("cloudformation")
    with Stubber(ssm) as ssm_stub, Stubber(cloudformation) as cfn_stub:
        ssm_stub.add_client_error("get_parameter", "ParameterNotFound", "")
        cfn_stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "CDKToolkit",
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                    }
                ]
            },
            {"StackName": "CDKToolkit"},
        )
        check = check_bootstrap(ssm, cloudformation, "123456789012", "us-east-1")
    assert (
        check.status == CheckStatus.WARNING
        and check.fix
        and "bootstrap aws://123456789012/us-east-1" in check.fix
    )


@pytest.mark.parametrize(
    ("model_id", "words"),
    [
        (MODEL, ["claude", "sonnet", "4.5"]),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", ["claude", "3.5", "haiku"]),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", ["claude", "haiku", "4.5"]),
    ],
)
def test_model_ids_become_the_words_quota_names_use(model_id: str, words: list[str]) -> None:
    assert model_words(model_id) == words


@pytest.mark.parametrize(
    ("region", "status"),
    [
        ("eu-west-1", CheckStatus.OK),
        ("us-gov-west-1", CheckStatus.OK),
        ("ca-central-1", CheckStatus.FAILED),
        ("af-south-1", CheckStatus.FAILED),
    ],
)
def test_the_region_must_offer_every_service_and_rekognitions_image_apis(
    region: str, status: CheckStatus
) -> None:
    check = check_region(region, boto3.session.Session())
    assert check.status == status, check
    if status == CheckStatus.FAILED:
        assert "DetectLabels" in check.detail and check.fix and "eu-west-1" in check.fix
