"""Issue 13, item 6: `imgpipe doctor` as a user runs it, against moto (STS, SSM, CloudFormation, SNS,
SQS) and the simulated AI services (Bedrock's Converse); tests/unit/test_doctor_checks.py covers with
Stubber what moto does not serve (Service Quotas, a pending subscription)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from imgpipe.commands.doctor import BOOTSTRAP_PARAMETER, configured
from imgpipe.simulated.ai_services import AiServicesDouble
from infra import outputs
from tests.support import describe, run_cli


def doctor_env(moto_endpoint: str, double: AiServicesDouble, region: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_endpoint,
        **double.env(),
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def aws(service: str, moto_endpoint: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=moto_endpoint, region_name=region)


def rows(stdout: str) -> dict[str, str]:
    """check name -> result, from the doctor's table."""
    found = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 2 and cells[1] in ("ok", "FAILED", "WARNING", "-"):
            found[cells[0]] = cells[1]
    return found


def test_before_a_deploy(moto_endpoint: str, double: AiServicesDouble) -> None:
    region, env = "us-east-2", doctor_env(moto_endpoint, double, "us-east-2")
    done = run_cli("doctor", env=env)
    assert done.returncode == 1, describe(done)  # not bootstrapped yet
    result = rows(done.stdout)
    assert result["credentials"] == "ok" and result["region"] == "ok" and result["Bedrock model"] == "ok"
    assert result["CDK bootstrap"] == "FAILED"
    assert "bootstrap aws://123456789012/us-east-2" in done.stdout and "npx aws-cdk@" in done.stdout
    assert result["alarm subscription"] == result["dead-letter queue"] == "-"  # nothing deployed yet
    (call,) = [c for c in double.calls if c["operation"] == "Converse"]
    assert call["model_id"] == configured().settings.bedrock_model_id  # cdk.json's model, one tiny call
    aws("ssm", moto_endpoint, region).put_parameter(Name=BOOTSTRAP_PARAMETER, Value="28", Type="String")
    again = run_cli("doctor", env=env)
    assert again.returncode == 0 and rows(again.stdout)["CDK bootstrap"] == "ok", describe(again)
    assert "Every check passed" in again.stdout


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")
def test_after_a_deploy(moto_endpoint: str, double: AiServicesDouble) -> None:
    region, env = "eu-west-1", doctor_env(moto_endpoint, double, "eu-west-1")
    aws("ssm", moto_endpoint, region).put_parameter(Name=BOOTSTRAP_PARAMETER, Value="28", Type="String")
    sqs, sns = aws("sqs", moto_endpoint, region), aws("sns", moto_endpoint, region)
    dlq = sqs.create_queue(QueueName="imgpipe-doctor-dlq")["QueueUrl"]
    topic = sns.create_topic(Name="imgpipe-doctor-alarms")["TopicArn"]
    stack = {outputs.ALARM_TOPIC_ARN: topic, outputs.DEAD_LETTER_QUEUE_URL: dlq}
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in stack.items()},
    }
    aws("cloudformation", moto_endpoint, region).create_stack(
        StackName="Deployed", TemplateBody=json.dumps(template)
    )

    done = run_cli("doctor", "--stack", "Deployed", env=env)
    assert done.returncode == 1, describe(done)
    assert rows(done.stdout)["alarm subscription"] == "FAILED" and "alarm_email=" in done.stdout
    assert rows(done.stdout)["dead-letter queue"] == "ok"

    queue_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)  # confirmed at once, as SQS ones are
    for number in range(2):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"failed {number}")
    done = run_cli("doctor", "--stack", "Deployed", env=env)
    result = rows(done.stdout)
    assert result["alarm subscription"] == "ok" and result["dead-letter queue"] == "FAILED", describe(done)
    assert "2 message(s) exhausted their retries" in done.stdout and "start-message-move-task" in done.stdout

    missing = run_cli("doctor", "--stack", "NotDeployed", env=env)
    assert missing.returncode == 1 and rows(missing.stdout)["dead-letter queue"] == "FAILED"
    assert "no stack named NotDeployed" in missing.stdout


def test_a_region_without_rekognitions_image_apis(moto_endpoint: str, double: AiServicesDouble) -> None:
    done = run_cli("doctor", "--region", "ca-central-1", env=doctor_env(moto_endpoint, double, "us-east-1"))
    assert done.returncode == 1 and rows(done.stdout)["region"] == "FAILED", describe(done)
    assert "DetectLabels" in done.stdout and "eu-west-1" in done.stdout  # what is missing, and where to go


def test_a_model_without_access(moto_endpoint: str, double: AiServicesDouble) -> None:
    double.fail_next("Converse", code="AccessDeniedException")
    done = run_cli("doctor", env=doctor_env(moto_endpoint, double, "ap-southeast-2"))
    assert rows(done.stdout)["Bedrock model"] == "FAILED" and done.returncode == 1, describe(done)
    assert "Model access" in done.stdout


def test_without_credentials_the_rest_is_skipped(
    moto_endpoint: str, double: AiServicesDouble, tmp_path: Any
) -> None:
    env = {
        k: v
        for k, v in doctor_env(moto_endpoint, double, "us-east-1").items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    }
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = run_cli("doctor", env=env)
    result = rows(done.stdout)
    assert done.returncode == 1 and result["credentials"] == "FAILED", describe(done)
    assert result["Bedrock model"] == result["CDK bootstrap"] == "-"
    assert "aws configure" in done.stdout
