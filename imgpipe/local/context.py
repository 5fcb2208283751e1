"""The context object Lambda passes to the handler, for invocations outside Lambda (local sandboxes,
benchmarks, tests): Powertools' typed `LambdaContext` with every field Lambda fills in, and a deadline
that runs out `timeout_s` after it is made, as an invocation's does."""

from __future__ import annotations

import time
import uuid

from aws_lambda_powertools.utilities.typing import LambdaContext

from .stackspec import LOCAL_REGION

ACCOUNT = "123456789012"  # the account id moto reports


class InvocationContext(LambdaContext):
    def __init__(
        self,
        function_name: str = "imgpipe-image-analysis",
        timeout_s: float = 300.0,
        request_id: str | None = None,
        memory_mb: int = 1024,
    ) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:{ACCOUNT}:function:{function_name}"
        self._memory_limit_in_mb = memory_mb
        self._aws_request_id = request_id or str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = f"local/[$LATEST]{self._aws_request_id}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]  # a staticmethod returning 0 there
        return max(0, int((self._deadline - time.monotonic()) * 1000))
