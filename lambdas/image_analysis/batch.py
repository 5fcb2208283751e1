"""An SQS batch: every record handled, failures reported per item (partial batch response).

A record fails (and SQS redelivers it, then the DLQ keeps it) only for what may succeed later:
transient errors, misconfiguration and malformed messages. Bad images are recorded and acknowledged.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from . import telemetry as names
from .errors import ConfigurationError, TransientError
from .intake import MalformedMessage, parse_body
from .observability import count, logger, record_result, tracer
from .pipeline import DUPLICATE, Runtime, handle_event


def process_batch(event: dict[str, Any], context: Any, rt: Runtime) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=partial(handle_record, rt=rt), processor=processor, context=context
    )


def handle_record(record: SQSRecord, rt: Runtime) -> None:
    try:
        events = parse_body(record.body)
    except MalformedMessage as exc:
        logger.error(
            "malformed message; it will reach the DLQ", message_id=record.message_id, reason=str(exc)
        )
        raise
    for event in events:
        logger.set_correlation_id(event.key)
        _handle_event(event, rt)


@tracer.capture_method
def _handle_event(event: Any, rt: Runtime) -> None:
    started = time.perf_counter()
    try:
        outcome, result = handle_event(event, rt)
    except ConfigurationError as exc:
        count(names.CONFIGURATION_ERRORS)
        logger.error("misconfiguration: fix the deployment, then redrive the DLQ", reason=str(exc))
        raise
    except TransientError as exc:
        count(names.TRANSIENT_FAILURES)
        logger.warning("transient failure; SQS will redeliver", reason=str(exc))
        raise
    if result is not None:
        record_result(result, (time.perf_counter() - started) * 1000)
        return
    if outcome == DUPLICATE:
        count(names.DUPLICATE_DELIVERIES)
    logger.info("event handled without analysis", outcome=outcome, event_kind=event.kind)
