"""S3 and SQS conventions shared by the commands and the local mode (which this never imports)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SHA256_METADATA = "sha256"  # object metadata: the file's SHA-256, so `imgpipe upload` skips unchanged files


def list_keys(s3: Any, bucket: str, prefix: str = "") -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def queue_depth(sqs: Any, url: str) -> int:
    """Messages waiting plus in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())
