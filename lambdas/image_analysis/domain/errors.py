"""The pipeline's own exceptions. Adapters translate botocore errors into these with `raise ... from`
(adapters/errors.py).

How the handler treats each one decides whether SQS redelivers a message, so the split matters:
- ImageRejected: the input can never succeed. Recorded as failed, message acknowledged.
- AnalysisFailed: one analysis cannot succeed for this image. The others stand; the image is partial.
- TransientError: may succeed later. The batch item fails, SQS redelivers, the DLQ keeps it in the end.
- ConfigurationError: the deployment is wrong (access denied, model not enabled). Logged as an ERROR
  with a metric and retried like a transient error, so the images wait in the DLQ for a redrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import GpsFix


@dataclass(frozen=True)
class SeenImage:
    """What was read from an image before it was refused, so the result records more than the refusal."""

    format: str
    width: int  # after EXIF orientation, when it was read
    height: int
    gps: GpsFix | None = None
    notes: tuple[str, ...] = ()


class PipelineError(Exception):
    """Base class for errors the pipeline raises on purpose."""


class ImageRejected(PipelineError):
    """Input that can never be analysed; `code` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str, seen: SeenImage | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.seen = seen  # None when the refusal came before the image's header was read


class AnalysisFailed(PipelineError):
    """One analysis failed permanently for this image (e.g. the service refused the image)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransientError(PipelineError):
    """A failure that outlasted client retries but may succeed on a later delivery."""


class ConfigurationError(PipelineError):
    """The deployment cannot work as configured: permissions, model access, missing resources."""


class ObjectMissing(PipelineError):
    """The S3 object named by an event no longer exists (deleted before we got to it)."""


class DeadlineNear(TransientError):
    """Too little of the invocation is left to start another image; it is retried after a back-off."""
