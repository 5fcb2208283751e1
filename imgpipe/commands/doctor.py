"""`imgpipe doctor`: before and after a deploy, check what the stack needs from the account and Region.

Each check is a function of the boto3 clients it calls (so a test can hand it a stubbed client) and
returns a Check; a failed check says how to fix it. The command exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from rich.console import Console
from rich.table import Table

from infra import outputs
from infra.config import PipelineConfig, from_context
from infra.regions import APIS, REKOGNITION_IMAGE_REGIONS, supported_regions_text

from ..errors import HOW_TO_CONFIGURE, TargetError
from ..objects import queue_depth
from .common import status_console

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Every service the stack deploys or calls (infra/): each must have an endpoint in the Region.
STACK_SERVICES = (
    "s3",
    "sqs",
    "lambda",
    "dynamodb",
    "kms",
    "sns",
    "cloudwatch",
    "logs",
    "bedrock-runtime",
    "rekognition",
)
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_STACK = "CDKToolkit"
LAMBDA_CONCURRENCY = ("lambda", "L-B99A9384")  # Service Quotas: "Concurrent executions"
REKOGNITION_OPERATIONS = ("DetectLabels", "DetectText", "DetectModerationLabels")
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 2, "mode": "standard"}
)


class CheckStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"  # works, but may slow the pipeline down (e.g. a low quota): not a failure
    FAILED = "failed"
    SKIPPED = "skipped"  # could not be checked (an earlier check failed, or nothing deployed yet)


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    fix: str | None = None


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check the AWS account and Region for the stack, before and after a deploy",
        description="Check, before a deploy and after it, what the stack needs: AWS credentials; that the "
        "Region offers every service the stack uses; CDK bootstrap; that the configured Bedrock model "
        "answers one tiny request (a few tokens, a fraction of a cent); the service quotas that cap "
        "throughput; and, once deployed, that the alarm topic has a confirmed subscription and the "
        "dead-letter queue is empty. Each failed check says how to fix it; the exit code is 1 when one "
        "failed.",
    )
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help=f"the deployed stack to check (default: {outputs.STACK_NAME}, if it is deployed)",
    )
    parser.add_argument("--region", help="the Region to check (default: your AWS configuration's)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    region = session.region_name
    if not region:
        raise TargetError("No AWS region: pass --region or set AWS_REGION (or a region in your profile).")
    status_console().print(f"Checking Region {region}…", highlight=False)

    def client(name: str) -> Any:
        return session.client(name, config=CLIENT_CONFIG)  # type: ignore[call-overload]

    checks = diagnose(client, session, region, args.stack)
    console.print(render(checks))
    failed = [c for c in checks if c.status == CheckStatus.FAILED]
    for check in checks:
        if check.fix and check.status in (CheckStatus.FAILED, CheckStatus.WARNING):
            console.print(f"[bold]{check.name}[/bold]: {check.fix}", highlight=False, soft_wrap=True)
    summary = f"{len(failed)} check(s) failed." if failed else "Every check passed (or could not apply yet)."
    console.print(summary)
    return 1 if failed else 0


def diagnose(
    client: Callable[[str], Any], session: boto3.session.Session, region: str, stack_name: str | None
) -> list[Check]:
    credentials, account = check_credentials(client("sts"))
    checks = [credentials, check_region(region, session)]
    if account is None:
        needs = "needs working credentials"
        names = (
            "CDK bootstrap",
            "Bedrock model",
            "service quotas",
            "alarm subscription",
            "dead-letter queue",
        )
        return checks + [Check(name, CheckStatus.SKIPPED, needs) for name in names]
    config = configured()
    stack = stack_outputs(client("cloudformation"), stack_name or outputs.STACK_NAME)
    model_id = deployed_model_id(client("lambda"), stack) or config.settings.bedrock_model_id
    checks += [
        check_bootstrap(client("ssm"), client("cloudformation"), account, region),
        check_model(client("bedrock-runtime"), model_id),
        *check_quotas(client("service-quotas"), config.stack.max_concurrency, model_id),
    ]
    if stack is None:
        name = stack_name or outputs.STACK_NAME
        status = CheckStatus.FAILED if stack_name else CheckStatus.SKIPPED
        why = f"no stack named {name} in {region}"
        fix = "deploy it with `make deploy`, or pass its Region (--region) and name (--stack)"
        return [*checks, *(Check(n, status, why, fix) for n in ("alarm subscription", "dead-letter queue"))]
    return [
        *checks,
        check_alarm_subscription(client("sns"), stack.get(outputs.ALARM_TOPIC_ARN)),
        check_dead_letters(client("sqs"), stack.get(outputs.DEAD_LETTER_QUEUE_URL)),
    ]


# --------------------------------------------------------------------------- the checks


def check_credentials(sts: Any) -> tuple[Check, str | None]:
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        return Check("credentials", CheckStatus.FAILED, "no AWS credentials found", HOW_TO_CONFIGURE), None
    except (ClientError, BotoCoreError) as exc:
        return Check("credentials", CheckStatus.FAILED, _why(exc), HOW_TO_CONFIGURE), None
    account = identity["Account"]
    return Check("credentials", CheckStatus.OK, f"account {account} as {identity['Arn']}"), account


def check_region(region: str, session: boto3.session.Session) -> Check:
    """botocore's endpoint data, per service of the stack, plus the Rekognition image APIs' allow-list.
    Services botocore lists no Regions for (Bedrock Runtime resolves endpoints by rules) are proven by
    the live Bedrock call instead."""
    try:
        partition = session.get_partition_for_region(region)
    except (ValueError, BotoCoreError):
        partition = "aws"
    missing = []
    for service in STACK_SERVICES:
        known = session.get_available_regions(service, partition_name=partition)
        if known and region not in known:
            missing.append(service)
    if region not in REKOGNITION_IMAGE_REGIONS:
        missing.append(f"{APIS} (infra/regions.py)")
    if missing:
        return Check(
            "region",
            CheckStatus.FAILED,
            f"{region} lacks {', '.join(dict.fromkeys(missing))}",
            f"use a Region that has them: {supported_regions_text()} (--region, AWS_REGION or your profile)",
        )
    return Check("region", CheckStatus.OK, f"{region} offers every service the stack uses")


def check_bootstrap(ssm: Any, cloudformation: Any, account: str, region: str) -> Check:
    fix = f"bootstrap the account and Region once: {cdk_cli()} bootstrap aws://{account}/{region}"
    try:
        version = ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
        return Check("CDK bootstrap", CheckStatus.OK, f"bootstrap version {version} ({BOOTSTRAP_PARAMETER})")
    except ClientError as exc:
        if _code(exc) != "ParameterNotFound":
            return Check(
                "CDK bootstrap", CheckStatus.FAILED, f"cannot read {BOOTSTRAP_PARAMETER}: {_why(exc)}", fix
            )
    try:
        stack = cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"][0]
    except ClientError:
        return Check(
            "CDK bootstrap",
            CheckStatus.FAILED,
            f"no {BOOTSTRAP_STACK} stack and no {BOOTSTRAP_PARAMETER}",
            fix,
        )
    return Check(
        "CDK bootstrap",
        CheckStatus.WARNING,
        f"{BOOTSTRAP_STACK} is {stack.get('StackStatus')} but {BOOTSTRAP_PARAMETER} is missing",
        f"bootstrap again to repair it: {fix.split(': ', 1)[1]}",
    )


def check_model(bedrock: Any, model_id: str) -> Check:
    """One Converse call of a few tokens: proves access, the model id and the Region in one go."""
    try:
        response = bedrock.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": "Reply with the single word OK."}]}],
            inferenceConfig={"maxTokens": 8, "temperature": 0.0},
        )
    except ClientError as exc:
        code = _code(exc)
        fixes = {
            "AccessDeniedException": "grant access to the model once, as an administrator: open the Bedrock "
            "console's Model access page (Anthropic models need the one-time use-case form), and check that "
            "your credentials allow bedrock:InvokeModel",
            "ValidationException": "the model id is not offered here: pick one the Region supports "
            "(aws bedrock list-inference-profiles) and deploy with -c bedrock_model_id=ID",
            "ResourceNotFoundException": "the model id does not exist here: check it, or deploy with "
            "-c bedrock_model_id=ID",
            "ThrottlingException": "the model's quota is exhausted right now: retry later, or request more "
            "in Service Quotas (Amazon Bedrock)",
        }
        fix = fixes.get(code, "see the error above; docs/deploy.md lists the prerequisites")
        return Check("Bedrock model", CheckStatus.FAILED, f"{model_id}: {_why(exc)}", fix)
    except BotoCoreError as exc:
        return Check(
            "Bedrock model", CheckStatus.FAILED, f"{model_id}: {exc}", "check the network and the Region"
        )
    usage = response.get("usage", {})
    tokens = f"{usage.get('inputTokens', '?')} tokens in, {usage.get('outputTokens', '?')} out"
    return Check("Bedrock model", CheckStatus.OK, f"{model_id} answered ({tokens})")


def check_quotas(quotas: Any, max_concurrency: int, model_id: str) -> list[Check]:
    """Lambda's concurrent executions must fit the event source's maximum concurrency; Rekognition's
    and Bedrock's rates below it throttle (images are retried, so that is a warning)."""
    checks = [_lambda_quota(quotas, max_concurrency)]
    try:
        rekognition = _quotas(quotas, "rekognition")
        bedrock = _quotas(quotas, "bedrock")
    except (ClientError, BotoCoreError) as exc:
        return [*checks, Check("AI service quotas", CheckStatus.SKIPPED, f"cannot list quotas: {_why(exc)}")]
    for operation in REKOGNITION_OPERATIONS:
        found = [q for q in rekognition if operation.lower() in q["QuotaName"].lower().replace(" ", "")]
        checks.append(_rate_check(f"Rekognition {operation}", found, max_concurrency, "per second"))
    words = model_words(model_id)
    found = [
        q
        for q in bedrock
        if "requests per minute" in q["QuotaName"].lower() and all(w in q["QuotaName"].lower() for w in words)
    ]
    checks.append(_rate_check(f"Bedrock {' '.join(words) or model_id}", found, max_concurrency, "per minute"))
    return checks


def check_alarm_subscription(sns: Any, topic_arn: str | None) -> Check:
    if not topic_arn:
        return Check("alarm subscription", CheckStatus.SKIPPED, "the stack has no AlarmTopicArn output")
    fix = 'deploy with CDK_ARGS="-c alarm_email=you@example.com" and click the link in the email AWS sends'
    try:
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    except ClientError as exc:
        return Check("alarm subscription", CheckStatus.FAILED, _why(exc), fix)
    confirmed = [s for s in subscriptions if s["SubscriptionArn"].startswith("arn:")]
    if confirmed:
        endpoints = ", ".join(f"{s['Protocol']} {s['Endpoint']}" for s in confirmed)
        return Check("alarm subscription", CheckStatus.OK, f"confirmed: {endpoints}")
    if subscriptions:
        pending = ", ".join(s["Endpoint"] for s in subscriptions)
        return Check(
            "alarm subscription",
            CheckStatus.FAILED,
            f"not confirmed yet: {pending}",
            "click the link in the email AWS sent (check spam), or deploy again to resend it",
        )
    return Check("alarm subscription", CheckStatus.FAILED, "nobody is subscribed: alarms reach no one", fix)


def check_dead_letters(sqs: Any, url: str | None) -> Check:
    if not url:
        return Check("dead-letter queue", CheckStatus.SKIPPED, "the stack has no DeadLetterQueueUrl output")
    try:
        depth = queue_depth(sqs, url)
    except ClientError as exc:
        return Check("dead-letter queue", CheckStatus.FAILED, _why(exc), "check sqs:GetQueueAttributes on it")
    if depth == 0:
        return Check("dead-letter queue", CheckStatus.OK, "empty")
    return Check(
        "dead-letter queue",
        CheckStatus.FAILED,
        f"{depth} message(s) exhausted their retries",
        f"look at them (aws sqs receive-message --queue-url {url} --visibility-timeout 0) and the function's "
        "logs; once the cause is fixed, move them back with aws sqs start-message-move-task --source-arn "
        "<the queue's ARN>, or analyse the images again with imgpipe backfill",
    )


# --------------------------------------------------------------------------- helpers


def configured(root: Path = PROJECT_ROOT) -> PipelineConfig:
    """The knobs a deploy from this checkout would use (cdk.json), or the defaults without one."""
    try:
        context = json.loads((root / "cdk.json").read_text())["context"]
    except (OSError, ValueError, KeyError):
        context = {}
    return from_context(context)


def stack_outputs(cloudformation: Any, name: str) -> dict[str, str] | None:
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deployed_model_id(lambda_client: Any, stack: dict[str, str] | None) -> str | None:
    """The model the deployed function is configured with (its BEDROCK_MODEL_ID), when readable."""
    function = (stack or {}).get(outputs.FUNCTION_NAME)
    if not function:
        return None
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function)
    except (ClientError, BotoCoreError):
        return None
    model: str | None = configuration.get("Environment", {}).get("Variables", {}).get("BEDROCK_MODEL_ID")
    return model


def model_words(model_id: str) -> list[str]:
    """'global.anthropic.claude-sonnet-4-5-20250929-v1:0' -> ['claude', 'sonnet', '4.5']: how the
    Service Quotas names call the model."""
    name = model_id.split(":")[0].split(".")[-1]
    parts = [p for p in re.split(r"[-_]", name) if not re.fullmatch(r"\d{8}|v\d+", p)]
    words: list[str] = []
    for part in parts:
        if part.isdigit() and words and words[-1][-1].isdigit():
            words[-1] += f".{part}"
        else:
            words.append(part.lower())
    return words


def cdk_cli() -> str:
    """The CDK CLI as the Makefile pins it."""
    try:
        found = re.search(r"aws-cdk@([\d.]+)", (PROJECT_ROOT / "Makefile").read_text())
    except OSError:
        found = None
    return f"npx aws-cdk@{found.group(1)}" if found else "npx aws-cdk"


def _lambda_quota(quotas: Any, max_concurrency: int) -> Check:
    service, code = LAMBDA_CONCURRENCY
    try:
        value = quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
    except (ClientError, BotoCoreError) as exc:
        return Check("Lambda concurrency", CheckStatus.SKIPPED, f"cannot read quota {code}: {_why(exc)}")
    if value < max_concurrency:
        return Check(
            "Lambda concurrency",
            CheckStatus.FAILED,
            f"the account may run {value:g} functions at once; the stack drives up to {max_concurrency}",
            f"request more: aws service-quotas request-service-quota-increase --service-code {service} "
            f"--quota-code {code} --desired-value {max(1000, max_concurrency)}, or deploy with "
            f"-c max_concurrency={max(2, int(value))}",
        )
    return Check(
        "Lambda concurrency",
        CheckStatus.OK,
        f"{value:g} concurrent executions (stack: up to {max_concurrency})",
    )


def _quotas(quotas: Any, service: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode=service):
        found.extend(page["Quotas"])
    return found


def _rate_check(name: str, found: list[dict[str, Any]], max_concurrency: int, unit: str) -> Check:
    if not found:
        return Check(name, CheckStatus.SKIPPED, "no matching quota in Service Quotas")
    quota = min(found, key=lambda q: q["Value"])
    value = quota["Value"]
    detail = f"{value:g} {unit} ({quota['QuotaName']})"
    if value < max_concurrency:
        return Check(
            name,
            CheckStatus.WARNING,
            detail
            + f": below the stack's {max_concurrency} concurrent images, so bursts are throttled and retried",
            f"request more in Service Quotas ({quota.get('QuotaCode', 'the quota above')}), or deploy with a "
            "lower -c max_concurrency",
        )
    return Check(name, CheckStatus.OK, detail)


def render(checks: list[Check]) -> Table:
    marks = {
        CheckStatus.OK: "ok",
        CheckStatus.WARNING: "WARNING",
        CheckStatus.FAILED: "FAILED",
        CheckStatus.SKIPPED: "-",
    }
    styles = {
        CheckStatus.OK: "green",
        CheckStatus.WARNING: "yellow",
        CheckStatus.FAILED: "red",
        CheckStatus.SKIPPED: "dim",
    }
    table = Table(title="imgpipe doctor", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in checks:
        table.add_row(check.name, f"[{styles[check.status]}]{marks[check.status]}", check.detail)
    return table


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _why(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)
