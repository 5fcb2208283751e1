"""Build the AWS clients and the Runtime once per process.

Timeouts are explicit and retries use botocore's adaptive mode (client-side rate limiting plus
exponential back-off with jitter for throttling). Endpoints are never set here: boto3 honours
AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, which is how local runs and tests redirect calls.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

from .analysis import AiClients
from .pipeline import Runtime
from .results_table import ResultsTable
from .settings import Settings

ANALYSIS_THREADS = 8  # four calls per image, with room for two images in flight


def client_config(settings: Settings, read_timeout_s: float) -> Config:
    return Config(
        retries={"total_max_attempts": settings.max_attempts, "mode": "adaptive"},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=read_timeout_s,
        max_pool_connections=ANALYSIS_THREADS * 2,
    )


def build_runtime(settings: Settings, session: Any | None = None) -> Runtime:
    session = session or boto3.session.Session()
    storage = client_config(settings, read_timeout_s=30.0)
    return Runtime(
        settings=settings,
        s3=session.client("s3", config=storage),
        table=ResultsTable(session.client("dynamodb", config=storage), settings.results_table),
        ai=AiClients(
            bedrock=session.client(
                "bedrock-runtime", config=client_config(settings, settings.bedrock_read_timeout_s)
            ),
            rekognition=session.client(
                "rekognition", config=client_config(settings, settings.rekognition_read_timeout_s)
            ),
        ),
        executor=ThreadPoolExecutor(max_workers=ANALYSIS_THREADS, thread_name_prefix="analysis"),
        sqs=session.client("sqs", config=storage),
    )
