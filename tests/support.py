"""Helpers shared by the test suites: the per-test bucket and table, S3 and SQS events, running the CLI
in its own process, the project root."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from image_analysis.domain.keys import KeyLayout
from image_analysis.settings import Settings

# The key layout of the default settings ("images/" in, "results/" out), as every suite uses it.
_DEFAULTS = Settings(results_table="unused", enable_embeddings=False)  # the layout needs no vector index
LAYOUT = KeyLayout(_DEFAULTS.input_prefix, _DEFAULTS.output_prefix)


@dataclass
class Stack:
    """An isolated bucket and table on the moto server for one test."""

    bucket: str
    table: str
    s3: Any
    dynamodb: Any


def s3_record(
    event_name: str, bucket: str, key: str, version_id: str | None = None, etag: str | None = None
) -> dict[str, Any]:
    """One S3 notification record as S3 sends it: the key URL-encoded with '+' for spaces."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": 1, "sequencer": "0A1B2C3D4E5F678901"}
    if version_id:
        obj["versionId"] = version_id
    if etag:
        obj["eTag"] = etag
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T03:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS event for Lambda whose messages carry the given bodies."""
    records = []
    for number, body in enumerate(bodies):
        records.append(
            {
                "messageId": f"message-{number}",
                "receiptHandle": f"handle-{number}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763780400000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:imgpipe-uploads",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLI_TIMEOUT_S = 600  # a safety net for a hung run, not a speed requirement


def run_cli(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m imgpipe.cli ...` in its own process (its moto must not share the test process' state)."""
    return subprocess.run(
        [sys.executable, "-m", "imgpipe.cli", *map(str, args)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def describe(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr[-4000:]}"
