"""The one place that creates the Powertools Logger, Tracer and Metrics (module-level, as Powertools
expects) and records what happened to each image."""

from __future__ import annotations

from dataclasses import asdict

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from .domain import telemetry as names
from .domain.models import ImageResult
from .domain.states import AnalysisStatus, ImageStatus

logger = Logger(service=names.SERVICE_NAME)
tracer = Tracer(service=names.SERVICE_NAME)
metrics = Metrics(namespace=names.METRICS_NAMESPACE, service=names.SERVICE_NAME)

_STATUS_METRIC = {
    ImageStatus.COMPLETE: names.IMAGES_COMPLETE,
    ImageStatus.PARTIAL: names.IMAGES_PARTIAL,
    ImageStatus.FAILED: names.IMAGES_FAILED,
}


def record_result(result: ImageResult, elapsed_ms: float) -> None:
    """Metrics and one structured log line for a finished image."""
    metrics.add_metric(name=_STATUS_METRIC[result.status], unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=names.IMAGE_LATENCY, unit=MetricUnit.Milliseconds, value=elapsed_ms)
    if result.flagged:
        metrics.add_metric(name=names.IMAGES_FLAGGED, unit=MetricUnit.Count, value=1)
    if result.reused_from:
        metrics.add_metric(name=names.IMAGES_REUSED, unit=MetricUnit.Count, value=1)
    for analysis, outcome in result.analyses.outcomes.items():
        if outcome.latency_ms is not None and analysis in names.ANALYSES:
            metrics.add_metric(
                name=names.latency_metric(analysis), unit=MetricUnit.Milliseconds, value=outcome.latency_ms
            )
    if result.analyses.faces:
        metrics.add_metric(name=names.FACES_DETECTED, unit=MetricUnit.Count, value=len(result.analyses.faces))
    if result.has_pii:
        metrics.add_metric(name=names.IMAGES_WITH_PII, unit=MetricUnit.Count, value=1)
    cost = result.cost
    if cost.comprehend_units:
        metrics.add_metric(name=names.COMPREHEND_UNITS, unit=MetricUnit.Count, value=cost.comprehend_units)
    if cost.input_tokens or cost.output_tokens:
        metrics.add_metric(name=names.BEDROCK_INPUT_TOKENS, unit=MetricUnit.Count, value=cost.input_tokens)
        metrics.add_metric(name=names.BEDROCK_OUTPUT_TOKENS, unit=MetricUnit.Count, value=cost.output_tokens)
    metrics.add_metric(name=names.ESTIMATED_COST, unit=MetricUnit.NoUnit, value=cost.estimated_usd)
    failed = {
        name: o.reason for name, o in result.analyses.outcomes.items() if o.status == AnalysisStatus.FAILED
    }
    log = logger.warning if result.status != ImageStatus.COMPLETE else logger.info
    log(
        "image analysed",
        status=result.status,
        error=asdict(result.error) if result.error else None,
        failed_analyses=failed or None,
        reused_from=result.reused_from,
        flagged=result.flagged,
        pii_types=_pii_types(result),  # the types of personal information shown, never the values
        cost_usd=cost.estimated_usd,
        elapsed_ms=round(elapsed_ms),
    )


def _pii_types(result: ImageResult) -> list[str] | None:
    insights = result.analyses.comprehension
    return insights.pii_types if insights and insights.has_pii else None


def count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
