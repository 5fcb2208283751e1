"""Errors the operator commands report to the user: a message and the exit code that goes with it."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    }
)
HOW_TO_CONFIGURE = (
    "configure them with `aws configure` (access keys), `aws sso login --profile NAME` and "
    "--profile NAME (IAM Identity Center), or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables"
)


class CommandError(Exception):
    """The command cannot do what was asked; the message says why (exit code 1 unless given)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TargetError(CommandError):
    """No stack to act on (missing, unreachable, no credentials): exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


def from_aws(exc: BotoCoreError | ClientError) -> CommandError:
    """A CommandError for an AWS failure, with advice where there is some."""
    if isinstance(exc, NoCredentialsError):
        return TargetError(f"No AWS credentials found: {HOW_TO_CONFIGURE}.")
    if isinstance(exc, EndpointConnectionError):
        return TargetError(f"{exc}: check the network (proxy, VPN) and the region (--region).")
    if isinstance(exc, ProfileNotFound):
        return TargetError(f"{exc}: check --profile / AWS_PROFILE against ~/.aws/config.")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", str(exc))
        if code in CREDENTIAL_CODES:
            return TargetError(f"AWS rejected the credentials ({code}: {message}); {HOW_TO_CONFIGURE}.")
        operation = getattr(exc, "operation_name", "an AWS call")
        return CommandError(f"{operation} failed: {code}: {message}")
    return CommandError(f"AWS call failed: {exc}")
