"""Every Rekognition, Comprehend, DynamoDB, S3 Vectors and embedding-model call the function makes for faces, text understanding, embeddings
and people (upload, re-analysis, removal) is an action its synthesized role grants, on moto and the
AI double; and each action those statements grant is used."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from image_analysis.adapters.people import PeopleItems
from image_analysis.domain import vectors as design
from image_analysis.domain.intake import REMOVED, S3Event
from image_analysis.pipeline import handle_event
from image_analysis.runtime import build_runtime
from image_analysis.settings import Settings

from imgpipe.local.vectors import VectorServer
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import jpeg, portrait
from tests.infra.templates import synth
from tests.infra.test_processing import role_statements
from tests.integration.test_faces import upload
from tests.support import Stack

CHECKED = ("rekognition", "comprehend", "dynamodb", "s3vectors", "bedrock")
# Authorised per contained PutItem/UpdateItem/DeleteItem/ConditionCheckItem (infra/processing.py)
NOT_AN_ACTION = {"dynamodb:TransactWriteItems"}


@pytest.fixture(scope="module")
def granted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    synthesized = synth(Path(tmp_path_factory.mktemp("cdk.out")), {"enable_people": True})
    statements = role_statements(synthesized, synthesized.logical_id("Processing/Role"))
    return {a for actions, _, _ in statements for a in actions if a.split(":")[0] in CHECKED}


@pytest.fixture
def vectors(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """imgpipe's local S3 Vectors with the stack's index shape; the function's client reaches it."""
    with VectorServer() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", server.endpoint)
        client = boto3.client("s3vectors")
        client.create_vector_bucket(vectorBucketName="granted-vectors")
        client.create_index(
            vectorBucketName="granted-vectors", indexName=design.INDEX_NAME, dataType=design.DATA_TYPE,
            dimension=Settings.embedding_dimension, distanceMetric=design.DISTANCE_METRIC,
        )  # fmt: skip
        yield "granted-vectors", design.INDEX_NAME


def test_the_function_calls_only_what_its_role_grants(
    stack: Stack, settings: Settings, double: AiServicesDouble, granted: set[str], vectors: tuple[str, str]
) -> None:
    collection = f"granted-{uuid.uuid4().hex[:8]}"
    boto3.client("rekognition").create_collection(CollectionId=collection)
    bucket, index = vectors
    rt = build_runtime(
        replace(
            settings,
            enable_people=True,
            people_collection=collection,
            enable_embeddings=True,
            vector_bucket=bucket,
            vector_index=index,
        )
    )
    assert rt.embeddings is not None and rt.vectors is not None
    called: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        called.add(f"{model.service_model.signing_name}:{model.name}")

    # Claude's Converse is granted as bedrock:InvokeModel on its own model (test_processing.py); the
    # embedding model's client is the one whose InvokeModel calls are checked here.
    for client in (
        rt.rekognition.client,
        rt.comprehend.client,
        rt.claims.client,
        rt.vectors.client,
        rt.embeddings.client,
    ):
        client.meta.events.register("before-call", record)
    try:
        handle_event(upload(stack, "images/p.jpg", portrait([(0.2, 0.2, 0.3, 0.5)])), rt)
        handle_event(upload(stack, "images/p.jpg", portrait([(0.5, 0.2, 0.3, 0.5)])), rt)  # replaces faces
        handle_event(upload(stack, "images/receipt.jpg", jpeg((640, 480), (240, 230, 30))), rt)
        face_id = rt.claims.get("images/p.jpg")["face_ids"][0]  # type: ignore[index]
        # named by the operator's CLI (its own client: not the function's calls)
        PeopleItems(boto3.client("dynamodb"), stack.table).name_face(face_id, "Alice", "2026-12-01T00:00:00Z")
        stack.s3.delete_object(Bucket=stack.bucket, Key="images/p.jpg")
        handle_event(S3Event(REMOVED, stack.bucket, "images/p.jpg"), rt)
    finally:
        rt.executor.shutdown(wait=True)
    used = {c for c in called if c.split(":")[0] in CHECKED} - NOT_AN_ACTION
    assert used - granted == set(), "called without a grant"
    assert {a for a in granted if a.startswith(("rekognition:", "comprehend:"))} <= used, "granted, unused"
    assert {"bedrock:InvokeModel", "s3vectors:PutVectors", "s3vectors:DeleteVectors"} <= used
