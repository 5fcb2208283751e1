"""Lambda entry point: Powertools decorators, then one call."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from .batch import process_batch
from .observability import logger, metrics, tracer
from .runtime import Runtime, build_runtime
from .settings import Settings


@cache
def runtime() -> Runtime:
    """Settings and clients, built on the first invocation and reused while the sandbox lives."""
    return build_runtime(Settings.from_env())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, context, runtime())
