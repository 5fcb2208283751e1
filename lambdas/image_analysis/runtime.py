"""The Runtime (settings, the adapters bound to their clients, an executor and a clock) and how it is
built once per process.

Timeouts are explicit and retries use botocore's adaptive mode (client-side rate limiting plus
exponential back-off with jitter for throttling). Endpoints are never set here: boto3 honours
AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, which is how local runs and tests redirect calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import UnknownServiceError

from .adapters.bedrock import Bedrock
from .adapters.claims import Claims
from .adapters.comprehend import Comprehend
from .adapters.content_cache import ContentCache
from .adapters.embeddings import Embeddings
from .adapters.faces import FaceCollection
from .adapters.people import PeopleItems
from .adapters.rekognition import Rekognition
from .adapters.s3 import S3Store
from .adapters.sqs import Sqs
from .adapters.vectors import VectorIndex
from .domain.errors import ConfigurationError
from .domain.keys import KeyLayout
from .settings import Settings

ANALYSIS_THREADS = 8  # four calls per image, with room for two images in flight


@dataclass
class Runtime:
    """Everything a run needs, built once per process (build_runtime) or by tests."""

    settings: Settings
    s3: S3Store
    claims: Claims  # who works on an image key, and its record (results table)
    cache: ContentCache  # earlier analyses of identical bytes (results table)
    bedrock: Bedrock
    rekognition: Rekognition
    comprehend: Comprehend
    people: PeopleItems  # which image each indexed face is in, and names (results table)
    sqs: Sqs  # to shorten a failed message's wait (batch.py's back-off)
    executor: Executor
    clock: Callable[[], float] = field(default=time.time)
    collection: FaceCollection | None = None  # the people collection, while ENABLE_PEOPLE is on
    embeddings: Embeddings | None = None  # the embedding model and the vector index, while
    vectors: VectorIndex | None = None  # ENABLE_EMBEDDINGS is on

    @property
    def layout(self) -> KeyLayout:
        return KeyLayout(self.settings.input_prefix, self.settings.output_prefix)

    def now_iso(self) -> str:
        return (
            datetime.fromtimestamp(self.clock(), UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )


def client_config(settings: Settings, read_timeout_s: float) -> Config:
    return Config(
        retries={"total_max_attempts": settings.max_attempts, "mode": "adaptive"},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=read_timeout_s,
        max_pool_connections=ANALYSIS_THREADS * 2,
    )


def build_runtime(settings: Settings, session: boto3.session.Session | None = None) -> Runtime:
    session = session or boto3.session.Session()
    storage = client_config(settings, read_timeout_s=30.0)
    dynamodb = session.client("dynamodb", config=storage)
    embedding_timeout = settings.embedding_read_timeout_s
    rekognition = session.client(
        "rekognition", config=client_config(settings, settings.rekognition_read_timeout_s)
    )
    return Runtime(
        settings=settings,
        s3=S3Store(session.client("s3", config=storage)),
        claims=Claims(dynamodb, settings.results_table),
        cache=ContentCache(dynamodb, settings.results_table),
        bedrock=Bedrock(
            session.client("bedrock-runtime", config=client_config(settings, settings.bedrock_read_timeout_s))
        ),
        rekognition=Rekognition(rekognition),
        comprehend=Comprehend(
            session.client("comprehend", config=client_config(settings, settings.comprehend_read_timeout_s))
        ),
        sqs=Sqs(session.client("sqs", config=storage)),
        executor=ThreadPoolExecutor(max_workers=ANALYSIS_THREADS, thread_name_prefix="analysis"),
        people=PeopleItems(dynamodb, settings.results_table),
        collection=FaceCollection(rekognition, settings.people_collection)
        if settings.enable_people
        else None,
        embeddings=Embeddings(
            session.client("bedrock-runtime", config=client_config(settings, embedding_timeout))
        )
        if settings.enable_embeddings
        else None,
        vectors=vector_index(settings, session, storage) if settings.enable_embeddings else None,
    )


def vector_index(settings: Settings, session: boto3.session.Session, config: Config) -> VectorIndex:
    """The stack's S3 Vectors index; the Lambda runtime's botocore must know the service (1.39.9+)."""
    try:
        client = session.client("s3vectors", config=config)
    except UnknownServiceError as exc:
        version = botocore.__version__
        raise ConfigurationError(
            f"botocore {version} has no s3vectors client: embeddings need botocore 1.39.9 or later "
            "in the Lambda runtime, or ENABLE_EMBEDDINGS=false"
        ) from exc
    return VectorIndex(client, settings.vector_bucket, settings.vector_index)
