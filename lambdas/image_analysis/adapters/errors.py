"""Translate botocore failures into the pipeline's exceptions (see domain/errors.py for what each means)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, ReadTimeoutError

from ..domain.errors import AnalysisFailed, ConfigurationError, PipelineError, TransientError

# Codes that mean "try again later" once botocore's own retries are spent.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalServerException",
        "InternalServerError",
        "InternalError",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "ServiceQuotaExceededException",
        "SlowDown",
        "RequestTimeout",
        "LimitExceededException",
    }
)
# Codes that mean the deployment is wrong: nothing will work until an operator fixes it.
CONFIGURATION_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ResourceNotFoundException",
        "NoSuchBucket",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def translate(exc: Exception, what: str) -> PipelineError:
    """Map a botocore exception from `what` (e.g. "Rekognition DetectLabels") to a pipeline error."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientError(f"{what}: {code}: {message}")
        if code in CONFIGURATION_CODES or _is_model_configuration(code, message):
            return ConfigurationError(f"{what}: {code}: {message}")
        return AnalysisFailed(code, f"{what} refused the request: {code}: {message}")
    if isinstance(exc, (ReadTimeoutError, ConnectionError, HTTPClientError)):
        return TransientError(f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, BotoCoreError):
        return TransientError(f"{what}: {type(exc).__name__}: {exc}")
    raise TypeError(f"not a botocore error: {exc!r}") from exc


def _is_model_configuration(code: str, message: str) -> bool:
    """Bedrock answers ValidationException for an unknown model id or one that needs a profile."""
    lowered = message.lower()
    return code == "ValidationException" and (
        "model identifier" in lowered or "inference profile" in lowered or "on-demand throughput" in lowered
    )
