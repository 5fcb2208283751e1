"""An SQS batch: every record handled, failures reported per item (partial batch response).

A record fails (and SQS redelivers it, then the DLQ keeps it) only for what may succeed later:
transient errors, misconfiguration and malformed messages. Bad images are recorded and acknowledged.

Failing records never make the invocation fail (`raise_on_entire_batch_failure=False`), so the
function's Errors metric counts crashes and timeouts only. A record that failed transiently comes
back after a short back-off (Backoff, below) instead of after the queue's whole visibility timeout.

A record not started because too little time was left is sent again as a fresh copy and acknowledged:
deferring it must not spend one of its receives (five receives send a message to the DLQ), or images
at the tail of busy batches would be parked without ever failing. If the copy cannot be sent, the
record fails instead and comes back after the back-off.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .adapters.sqs import Sqs
from .domain import telemetry as names
from .domain.errors import ConfigurationError, DeadlineNear, PipelineError, TransientError
from .domain.intake import MalformedMessage, S3Event, parse_body
from .domain.states import EventOutcome
from .observability import count, logger, record_result, tracer
from .pipeline import handle_event
from .runtime import Runtime

MAX_DELAY_S = 900  # 15 minutes: beyond that, the queue's own visibility timeout is as good


def process_batch(event: dict[str, Any], context: Any, rt: Runtime) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    batch = _Batch(rt, context, Backoff(rt.sqs, rt.settings.retry_delay_s))
    try:
        return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
            event=event, record_handler=batch.handle_record, processor=processor, context=context
        )
    finally:
        batch.backoff.apply()


class _Batch:
    """One invocation's records, handled one after another."""

    def __init__(self, rt: Runtime, context: Any, backoff: Backoff) -> None:
        self.rt = rt
        self.context = context
        self.backoff = backoff
        self.started = 0

    def handle_record(self, record: SQSRecord) -> None:
        # The first record always starts: the synth refuses a timeout that cannot cover one image.
        if self.started and self._out_of_time():
            if self.backoff.requeue(record):
                return  # its fresh copy carries it
            self.backoff.schedule(record)
            raise DeadlineNear(f"too little time left; one image may take {self._worst_s:.0f} s")
        self.started += 1
        try:
            for event in parse_body(record.body):
                logger.set_correlation_id(event.key)
                _handle_event(event, self.rt)
        except MalformedMessage as exc:
            logger.error(
                "malformed message; it will reach the DLQ", message_id=record.message_id, reason=str(exc)
            )
            raise
        except TransientError:
            self.backoff.schedule(record)
            raise

    @property
    def _worst_s(self) -> float:
        return self.rt.settings.worst_case_image_s

    def _out_of_time(self) -> bool:
        """True when the worst case of one image no longer fits in what is left of this invocation."""
        left_ms = self.context.get_remaining_time_in_millis()
        if left_ms >= self._worst_s * 1000:
            return False
        count(names.RECORDS_DEFERRED)
        logger.info("not started: too little time left for its worst case", left_ms=left_ms)
        return True


@tracer.capture_method
def _handle_event(event: S3Event, rt: Runtime) -> None:
    started = time.perf_counter()
    try:
        outcome, result = handle_event(event, rt)
    except ConfigurationError as exc:
        count(names.CONFIGURATION_ERRORS)
        logger.error("misconfiguration: fix the deployment, then redrive the DLQ", reason=str(exc))
        raise
    except TransientError as exc:
        count(names.TRANSIENT_FAILURES)
        logger.warning("transient failure; retried after a back-off", reason=str(exc))
        raise
    if result is not None:
        record_result(result, (time.perf_counter() - started) * 1000)
        return
    if outcome == EventOutcome.DUPLICATE:
        count(names.DUPLICATE_DELIVERIES)
    logger.info("event handled without analysis", outcome=outcome, event_kind=event.kind)


class Backoff:
    """Brings a failed message back after a short, growing back-off.

    With a partial batch response, Lambda leaves a failed message on the queue, where it reappears only
    when the queue's visibility timeout (six times the function timeout) runs out. For a throttled call
    that is far too long: the image waits half an hour and trips the oldest-message alarm. Changing the
    message's visibility brings it back after RETRY_DELAY_S, doubling with each receive. This collects
    the records of one batch that should come back soon, then changes their visibility.
    """

    def __init__(self, sqs: Sqs, base_s: int) -> None:
        self._sqs = sqs
        self._base_s = base_s
        self._pending: list[tuple[str, str, int]] = []  # (queue ARN, receipt handle, delay)

    def schedule(self, record: SQSRecord) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        self._pending.append(
            (record.event_source_arn, record.receipt_handle, delay_s(self._base_s, receives))
        )

    def requeue(self, record: SQSRecord) -> bool:
        """Send a fresh copy of a record that was never started, due after RETRY_DELAY_S; False when
        that is impossible (the record is then failed and backed off instead)."""
        try:
            url = self._sqs.queue_url(record.event_source_arn)
            self._sqs.send_copy(url, record.body, self._base_s)
        except (PipelineError, ValueError) as exc:
            logger.warning("could not re-queue a deferred record; failing it instead", reason=str(exc))
            return False
        return True

    def apply(self) -> None:
        """Best effort: a message whose visibility cannot be changed still comes back, only later."""
        urls: dict[str, str] = {}
        for arn, receipt_handle, delay in self._pending:
            try:
                if arn not in urls:
                    urls[arn] = self._sqs.queue_url(arn)
                self._sqs.change_visibility(urls[arn], receipt_handle, delay)
            except (PipelineError, ValueError) as exc:
                logger.warning(
                    "could not shorten the retry delay; the queue's timeout applies", reason=str(exc)
                )
        self._pending.clear()


def delay_s(base_s: int, receive_count: int, jitter: Callable[[], float] = random.random) -> int:
    """base × 2^(receives - 1), capped, with ±20 % jitter so throttled images do not return together."""
    exponential = min(MAX_DELAY_S, base_s << min(max(0, receive_count - 1), 20))
    return max(1, min(MAX_DELAY_S, round(exponential * (0.8 + 0.4 * jitter()))))
