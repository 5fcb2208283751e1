"""The embedding (Bedrock InvokeModel) and S3 Vectors adapters against real botocore clients with Stubber:
each request is checked against the service's own model, so these tests pin the wire contract."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from image_analysis.adapters.embeddings import Embeddings, parse_embedding
from image_analysis.adapters.vectors import VectorIndex
from image_analysis.domain.errors import AnalysisFailed, ConfigurationError, TransientError

TITAN = "amazon.titan-embed-image-v1"


@pytest.fixture
def bedrock() -> Iterator[tuple[Embeddings, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        yield Embeddings(client), stub
        stub.assert_no_pending_responses()


@pytest.fixture
def vectors() -> Iterator[tuple[VectorIndex, Stubber]]:
    client = boto3.client("s3vectors", region_name="us-east-1")
    with Stubber(client) as stub:
        yield VectorIndex(client, "vectors-bucket", "images"), stub
        stub.assert_no_pending_responses()


def _body(payload: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_an_image_is_embedded_with_the_requested_length(bedrock: tuple[Embeddings, Stubber]) -> None:
    embeddings, stub = bedrock
    stub.add_response(
        "invoke_model",
        {"body": _body({"embedding": [0.5, -0.5, 0.25, 0.0]}), "contentType": "application/json"},
        {"modelId": TITAN, "body": ANY, "contentType": "application/json", "accept": "application/json"},
    )
    assert embeddings.embed_image(b"\xff\xd8jpeg", model_id=TITAN, dimension=4) == [0.5, -0.5, 0.25, 0.0]


def test_a_phrase_is_sent_as_text_with_its_whitespace_folded(bedrock: tuple[Embeddings, Stubber]) -> None:
    embeddings, stub = bedrock
    sent: list[dict[str, Any]] = []
    stub.client.meta.events.register(
        "provide-client-params.bedrock-runtime.InvokeModel",
        lambda params, **_: sent.append(json.loads(params["body"])),
    )
    stub.add_response("invoke_model", {"body": _body({"embedding": [1.0, 0.0]}), "contentType": "x"})
    embeddings.embed_text("  harbour \n at   sunset ", model_id=TITAN, dimension=2)
    assert sent == [{"inputText": "harbour at sunset", "embeddingConfig": {"outputEmbeddingLength": 2}}]


def test_an_empty_phrase_is_refused_without_a_call(bedrock: tuple[Embeddings, Stubber]) -> None:
    with pytest.raises(AnalysisFailed, match="nothing to search for"):
        bedrock[0].embed_text(" \t ", model_id=TITAN, dimension=256)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"embedding": [0.1, 0.2]}, "expected an embedding of 3 numbers, got 2"),
        ({"message": "image too large"}, "got NoneType (image too large)"),
        ({"embedding": [0.1, "x", 0.3]}, "something other than numbers"),
        ({"embedding": [0.0, 0.0, 0.0]}, "all zeros"),
        ({"embedding": [0.1, float("nan"), 0.3]}, "NaN"),
        (["not", "an", "object"], "got NoneType"),
    ],
)
def test_a_malformed_embedding_is_an_analysis_failure_that_says_why(answer: Any, why: str) -> None:
    with pytest.raises(AnalysisFailed, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_embedding(answer, 3)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [("ThrottlingException", 429, TransientError), ("AccessDeniedException", 403, ConfigurationError)],
)
def test_service_errors_become_the_pipelines_own(
    bedrock: tuple[Embeddings, Stubber], code: str, status: int, error: type[Exception]
) -> None:
    embeddings, stub = bedrock
    stub.add_client_error("invoke_model", service_error_code=code, http_status_code=status)
    with pytest.raises(error, match="embedding"):
        embeddings.embed_image(b"jpeg", model_id=TITAN, dimension=256)


def test_a_vector_is_put_under_the_image_key_with_its_metadata(vectors: tuple[VectorIndex, Stubber]) -> None:
    index, stub = vectors
    metadata = {"status": "complete", "flagged": False, "labels": ["Boat", "Harbor"]}
    stub.add_response(
        "put_vectors",
        {},
        {
            "vectorBucketName": "vectors-bucket",
            "indexName": "images",
            "vectors": [{"key": "images/a b.jpg", "data": {"float32": [0.1, 0.2]}, "metadata": metadata}],
        },
    )
    index.put("images/a b.jpg", [0.1, 0.2], metadata)


def test_get_returns_the_stored_vector_or_none(vectors: tuple[VectorIndex, Stubber]) -> None:
    index, stub = vectors
    stub.add_response(
        "get_vectors",
        {"vectors": [{"key": "images/a.jpg", "data": {"float32": [0.5, 0.5]}, "metadata": {"status": "x"}}]},
    )
    stub.add_response("get_vectors", {"vectors": []})
    assert index.get("images/a.jpg") == ([0.5, 0.5], {"status": "x"})
    assert index.get("images/gone.jpg") is None


def test_delete_sends_at_most_500_keys_a_call(vectors: tuple[VectorIndex, Stubber]) -> None:
    index, stub = vectors
    keys = [f"images/{n}.jpg" for n in range(501)]
    stub.add_response(
        "delete_vectors",
        {},
        {"vectorBucketName": "vectors-bucket", "indexName": "images", "keys": keys[:500]},
    )
    stub.add_response(
        "delete_vectors",
        {},
        {"vectorBucketName": "vectors-bucket", "indexName": "images", "keys": keys[500:]},
    )
    index.delete([*keys, keys[0]])  # a repeated key is sent once


def test_query_returns_hits_nearest_first_with_the_filter_sent(vectors: tuple[VectorIndex, Stubber]) -> None:
    index, stub = vectors
    where = {"flagged": {"$eq": False}}
    stub.add_response(
        "query_vectors",
        {
            "vectors": [
                {"key": "images/far.jpg", "distance": 0.7, "metadata": {}},
                {"key": "images/near.jpg", "distance": 0.1, "metadata": {"labels": ["Boat"]}},
            ],
            "distanceMetric": "cosine",
        },
        {
            "vectorBucketName": "vectors-bucket",
            "indexName": "images",
            "queryVector": {"float32": [1.0, 0.0]},
            "topK": 2,
            "returnDistance": True,
            "returnMetadata": True,
            "filter": where,
        },
    )
    hits = index.query([1.0, 0.0], 2, where)
    assert [hit.key for hit in hits] == ["images/near.jpg", "images/far.jpg"]
    assert hits[0].similarity == pytest.approx(0.9)
    assert hits[0].metadata == {"labels": ["Boat"]}


def test_a_missing_index_is_a_configuration_error(vectors: tuple[VectorIndex, Stubber]) -> None:
    index, stub = vectors
    stub.add_client_error("put_vectors", service_error_code="AccessDeniedException", http_status_code=403)
    with pytest.raises(ConfigurationError, match="S3 Vectors PutVectors"):
        index.put("images/a.jpg", [0.1], {})
