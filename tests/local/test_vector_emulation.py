"""The local S3 Vectors (imgpipe/local/vectors.py) through a real boto3 `s3vectors` client and the
function's own adapter: the wire shapes and modelled errors, exact nearest-first ranking, every
metadata filter operator, and the snapshot."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from image_analysis.adapters.vectors import VectorIndex

from imgpipe.local.vectors import VectorServer, VectorStore

BUCKET, INDEX = "local-vectors", "image-embeddings"


@pytest.fixture(scope="module")
def server() -> Iterator[VectorServer]:
    running = VectorServer().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: VectorServer) -> Any:
    server.store.buckets.clear()
    made = boto3.client("s3vectors", endpoint_url=server.endpoint, region_name="us-east-1")
    made.create_vector_bucket(vectorBucketName=BUCKET)
    made.create_index(
        vectorBucketName=BUCKET,
        indexName=INDEX,
        dataType="float32",
        dimension=3,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": ["version_tag"]},
    )
    return made


def put(client: Any, key: str, data: list[float], **metadata: Any) -> None:
    client.put_vectors(
        vectorBucketName=BUCKET,
        indexName=INDEX,
        vectors=[{"key": key, "data": {"float32": data}, "metadata": metadata}],
    )


def query(
    client: Any, vector: list[float], top_k: int = 10, where: dict[str, Any] | None = None
) -> list[str]:
    extra = {"filter": where} if where is not None else {}
    found = client.query_vectors(
        vectorBucketName=BUCKET, indexName=INDEX, queryVector={"float32": vector}, topK=top_k, **extra
    )
    return [v["key"] for v in found["vectors"]]


def code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def test_bucket_and_index_are_described_as_created(client: Any) -> None:
    index = client.get_index(vectorBucketName=BUCKET, indexName=INDEX)["index"]
    assert (index["dimension"], index["distanceMetric"], index["dataType"]) == (3, "cosine", "float32")
    assert index["metadataConfiguration"] == {"nonFilterableMetadataKeys": ["version_tag"]}
    assert index["indexArn"].endswith(f":bucket/{BUCKET}/index/{INDEX}")
    assert client.get_vector_bucket(vectorBucketName=BUCKET)["vectorBucket"]["vectorBucketName"] == BUCKET


def test_modelled_errors_reach_boto3_as_their_exceptions(client: Any) -> None:
    with pytest.raises(client.exceptions.ConflictException):
        client.create_vector_bucket(vectorBucketName=BUCKET)
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_index(vectorBucketName=BUCKET, indexName="no-such-index")
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_vectors(vectorBucketName="no-such-bucket", indexName=INDEX, keys=["k"])
    with pytest.raises(ClientError) as raised:
        put(client, "short", [1.0, 0.0])  # the index has 3 dimensions
    assert code(raised) == "ValidationException" and "3 float32 values" in str(raised.value)
    with pytest.raises(ClientError) as raised:
        put(client, "zero", [0.0, 0.0, 0.0])
    assert code(raised) == "ValidationException"
    with pytest.raises(ClientError) as raised:
        query(client, [1, 0, 0], where={"status": {"$regex": "x"}})
    assert code(raised) == "ValidationException" and "$regex" in str(raised.value)


def test_put_replaces_get_returns_and_delete_removes(client: Any) -> None:
    put(client, "images/a.jpg", [1.0, 0.0, 0.0], status="complete", version_tag="v1")
    put(client, "images/a.jpg", [0.0, 1.0, 0.0], status="partial", version_tag="v2")
    found = client.get_vectors(
        vectorBucketName=BUCKET, indexName=INDEX, keys=["images/a.jpg", "images/none.jpg"],
        returnData=True, returnMetadata=True,
    )["vectors"]  # fmt: skip
    assert found == [
        {"key": "images/a.jpg", "data": {"float32": [0.0, 1.0, 0.0]},
         "metadata": {"status": "partial", "version_tag": "v2"}}
    ]  # fmt: skip
    client.delete_vectors(vectorBucketName=BUCKET, indexName=INDEX, keys=["images/a.jpg", "images/none.jpg"])
    assert (
        client.get_vectors(vectorBucketName=BUCKET, indexName=INDEX, keys=["images/a.jpg"])["vectors"] == []
    )
    assert client.list_vectors(vectorBucketName=BUCKET, indexName=INDEX)["vectors"] == []


def test_query_ranks_by_exact_cosine_distance(client: Any) -> None:
    rng = random.Random(7)
    stored = {f"k{n}": [rng.uniform(-1, 1) for _ in range(3)] for n in range(40)}
    for key, data in stored.items():
        put(client, key, data)
    probe = [0.3, -0.2, 0.9]

    def cosine_distance(v: list[float]) -> float:
        dot = sum(a * b for a, b in zip(v, probe, strict=True))
        return 1 - dot / (math.hypot(*v) * math.hypot(*probe))

    expected = sorted(stored, key=lambda k: cosine_distance(stored[k]))[:5]
    found = client.query_vectors(
        vectorBucketName=BUCKET, indexName=INDEX, queryVector={"float32": probe}, topK=5, returnDistance=True
    )["vectors"]
    assert [v["key"] for v in found] == expected
    for hit in found:
        assert hit["distance"] == pytest.approx(cosine_distance(stored[hit["key"]]), abs=1e-5)
    assert "metadata" not in found[0], "metadata only when asked for"
    assert len(query(client, probe, top_k=100)) == 40, "topK beyond the index returns the whole index"
    with pytest.raises(ClientError) as raised:
        query(client, probe, top_k=101)
    assert code(raised) == "ValidationException"


@pytest.fixture
def labelled(client: Any) -> Any:
    put(
        client, "red1", [1, 0, 0], status="complete", flagged=False, labels=["Red", "Colour"], version_tag="a"
    )
    put(client, "red2", [0.9, 0.1, 0], status="partial", flagged=True, labels=["Red"], version_tag="b")
    put(
        client,
        "blue",
        [0, 0, 1],
        status="complete",
        flagged=False,
        labels=["Blue", "Colour"],
        version_tag="c",
    )
    put(client, "bare", [0, 1, 0], status="failed", version_tag="d")  # no flagged, no labels
    return client


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"status": "complete"}, {"red1", "blue"}),
        ({"status": {"$eq": "partial"}}, {"red2"}),
        ({"status": {"$ne": "complete"}}, {"red2", "bare"}),
        ({"flagged": True}, {"red2"}),
        ({"flagged": {"$ne": True}}, {"red1", "blue", "bare"}),
        ({"labels": "Red"}, {"red1", "red2"}),  # $eq on a list: any element
        ({"labels": {"$in": ["Blue", "Green"]}}, {"blue"}),
        ({"labels": {"$nin": ["Red"]}}, {"blue", "bare"}),
        ({"labels": {"$exists": False}}, {"bare"}),
        ({"flagged": {"$exists": True}}, {"red1", "red2", "blue"}),
        ({"status": "complete", "labels": "Red"}, {"red1"}),  # two fields: both
        ({"$and": [{"labels": "Colour"}, {"flagged": False}]}, {"red1", "blue"}),
        ({"$or": [{"status": "failed"}, {"flagged": True}]}, {"red2", "bare"}),
        (
            {"$or": [{"labels": {"$in": ["Blue"]}}, {"$and": [{"labels": "Red"}, {"status": "partial"}]}]},
            {"blue", "red2"},
        ),
        ({"version_tag": "a"}, set()),  # non-filterable: never matches a filter
        ({"flagged": 0}, set()),  # a number is not a boolean
    ],
)
def test_metadata_filters(labelled: Any, where: dict[str, Any], expected: set[str]) -> None:
    assert set(query(labelled, [1, 0, 0], where=where)) == expected


def test_filtering_happens_before_the_top_k(labelled: Any) -> None:
    """Pre-filtering: the one blue vector is found even though three others are nearer."""
    assert query(labelled, [1, 0, 0], top_k=1, where={"labels": "Blue"}) == ["blue"]


def test_the_functions_adapter_works_against_it(client: Any) -> None:
    index = VectorIndex(client, BUCKET, INDEX)
    index.put("images/x.jpg", [0.0, 0.0, 2.0], {"status": "complete", "labels": ["Sky"], "flagged": False})
    index.put("images/y.jpg", [1.0, 0.0, 0.0], {"status": "complete", "labels": ["Red"], "flagged": False})
    assert index.get("images/x.jpg") == (
        [0.0, 0.0, 2.0],
        {"status": "complete", "labels": ["Sky"], "flagged": False},
    )
    assert index.get("images/none.jpg") is None
    hits = index.query([0.0, 0.1, 1.0], 2)
    assert [h.key for h in hits] == ["images/x.jpg", "images/y.jpg"]
    assert hits[0].similarity > 0.99 > hits[1].similarity
    assert [h.key for h in index.query([0.0, 0.1, 1.0], 2, {"labels": "Red"})] == ["images/y.jpg"]
    index.delete(["images/x.jpg"])
    assert index.get("images/x.jpg") is None


def test_the_snapshot_keeps_vectors_and_follows_restored_object_versions(
    labelled: Any, server: VectorServer, tmp_path: Path
) -> None:
    server.store.save(tmp_path)
    fresh = VectorStore()
    fresh.call("CreateVectorBucket", {"vectorBucketName": BUCKET})
    fresh.call(
        "CreateIndex",
        {
            "vectorBucketName": BUCKET,
            "indexName": INDEX,
            "dataType": "float32",
            "dimension": 3,
            "distanceMetric": "cosine",
        },
    )
    assert fresh.restore(tmp_path, new_versions={"red1": "restored-version"}) == 4
    found = fresh.call(
        "GetVectors",
        {"vectorBucketName": BUCKET, "indexName": INDEX, "keys": ["red1", "red2"], "returnMetadata": True},
    )
    tags = {v["key"]: v["metadata"]["version_tag"] for v in found["vectors"]}
    assert tags == {"red1": "restored-version", "red2": "b"}
    assert VectorStore().restore(tmp_path) == 0, "no index now: nothing restored, nothing invented"
