"""A stand-in for Lambda's Python runtime, run by the interpreter under test (e.g. arm64 python3.13).

    python -I bootstrap.py TASK_ROOT RUNTIME_DIR HANDLER EVENT_JSON RESULT_JSON

As Lambda's runtime does: TASK_ROOT (the unzipped asset, /var/task) first on sys.path, then
RUNTIME_DIR (boto3, which the runtime provides), no bytecode written (/var/task is read-only), the
handler imported by its module path, then called once with the event and a context. Standard library
only; nothing of the project is imported but the asset itself.

RESULT_JSON gets the handler's response and what the test checks about the run: the platform, the
import's duration, where the modules came from, and every module of the asset that was compiled from
source instead of loaded from its bytecode (importlib calls `source_to_code` exactly then).
"""

from __future__ import annotations

import importlib
import importlib._bootstrap_external as external
import json
import os
import platform
import sys
import time
import uuid
from typing import Any

task_root, runtime_dir, handler_path, event_path, result_path = sys.argv[1:6]
compiled_from_source: list[str] = []
_source_to_code = external.SourceLoader.source_to_code


def _recording_source_to_code(self: Any, data: Any, path: Any, *, _optimize: int = -1) -> Any:
    compiled_from_source.append(str(path))
    return _source_to_code(self, data, path, _optimize=_optimize)


external.SourceLoader.source_to_code = _recording_source_to_code  # type: ignore[method-assign]
sys.dont_write_bytecode = True
sys.path[0:0] = [task_root, runtime_dir]


class Context:
    """The Lambda context object: what Powertools reads, and the remaining time."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "imgpipe-image-analysis")
    function_version = "$LATEST"
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"))
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id = str(uuid.uuid4())
    log_group_name = f"/aws/lambda/{function_name}"
    log_stream_name = "2026/11/22/[$LATEST]arm64"

    def __init__(self, timeout_s: float) -> None:
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


module_name, function_name = handler_path.rsplit(".", 1)
wall, cpu = time.perf_counter(), time.process_time()
handler = getattr(importlib.import_module(module_name), function_name)
import_wall, import_cpu = time.perf_counter() - wall, time.process_time() - cpu
compiled_at_import = list(compiled_from_source)

with open(event_path) as file:
    event = json.load(file)
start = time.perf_counter()
response = handler(event, Context(timeout_s=900))
invoke_s = time.perf_counter() - start

origins = {}
for name in ("image_analysis", "PIL", "boto3", "botocore", "aws_lambda_powertools"):
    module = sys.modules.get(name)
    origins[name] = getattr(module, "__file__", None)
with open(result_path, "w") as file:
    json.dump(
        {
            "response": response,
            "machine": platform.machine(),
            "python": list(sys.version_info[:3]),
            "implementation": sys.implementation.name,
            "import_wall_s": import_wall,
            "import_cpu_s": import_cpu,
            "invoke_s": invoke_s,
            "compiled_at_import": compiled_at_import,
            "compiled_from_source": compiled_from_source,
            "origins": origins,
            "modules_from_task_root": sorted(
                name
                for name, module in list(sys.modules.items())
                if str(getattr(module, "__file__", None) or "").startswith(task_root)
            ),
        },
        file,
    )
