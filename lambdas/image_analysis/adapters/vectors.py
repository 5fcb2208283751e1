"""Amazon S3 Vectors adapter: the image embeddings, one vector per image key, in the stack's index.

The vector's key is the image key, so an upload over a key replaces its vector and a removal deletes
it. Metadata (status, flagged, labels, version) lets a search filter without reading the table.
Locally the same API is served by imgpipe's emulation (boto3 honours AWS_ENDPOINT_URL_S3VECTORS).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_s3vectors import S3VectorsClient

Metadata = Mapping[str, str | bool | int | float | list[str]]
DELETE_BATCH = 500  # DeleteVectors and PutVectors take at most 500 keys per call


@dataclass(frozen=True)
class Neighbour:
    """One search hit: the image key, its distance from the query (cosine: 0 is identical) and metadata."""

    key: str
    distance: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def similarity(self) -> float:
        """1 - cosine distance: 1 is the same direction, 0 unrelated."""
        return 1.0 - self.distance


class VectorIndex:
    """One S3 Vectors index, through one s3vectors client."""

    def __init__(self, client: S3VectorsClient, bucket: str, index: str) -> None:
        self.client = client
        self.where: dict[str, Any] = {"vectorBucketName": bucket, "indexName": index}

    def put(self, key: str, vector: list[float], metadata: Metadata) -> None:
        self._call(
            "PutVectors",
            lambda: self.client.put_vectors(
                **self.where,
                vectors=[{"key": key, "data": {"float32": vector}, "metadata": dict(metadata)}],
            ),
        )

    def get(self, key: str) -> tuple[list[float], dict[str, Any]] | None:
        """The stored vector and metadata of `key`, or None when it has none."""
        found = self._call(
            "GetVectors",
            lambda: self.client.get_vectors(**self.where, keys=[key], returnData=True, returnMetadata=True),
        )
        for vector in found.get("vectors", []):
            if vector.get("key") == key and "data" in vector:
                return list(vector["data"]["float32"]), dict(vector.get("metadata") or {})
        return None

    def delete(self, keys: Iterable[str]) -> None:
        """Delete the vectors of `keys`; a key without one is no error (S3 Vectors ignores it)."""
        pending = list(dict.fromkeys(keys))
        for start in range(0, len(pending), DELETE_BATCH):
            batch = pending[start : start + DELETE_BATCH]
            self._call("DeleteVectors", lambda b=batch: self.client.delete_vectors(**self.where, keys=b))

    def query(
        self, vector: list[float], top_k: int, where: Mapping[str, Any] | None = None
    ) -> list[Neighbour]:
        """The `top_k` nearest vectors, nearest first; `where` is an S3 Vectors metadata filter."""
        extra: dict[str, Any] = {"filter": dict(where)} if where else {}
        found = self._call(
            "QueryVectors",
            lambda: self.client.query_vectors(
                **self.where,
                queryVector={"float32": vector},
                topK=top_k,
                returnDistance=True,
                returnMetadata=True,
                **extra,
            ),
        )
        hits = [
            Neighbour(v["key"], float(v.get("distance", 0.0)), dict(v.get("metadata") or {}))
            for v in found.get("vectors", [])
        ]
        return sorted(hits, key=lambda hit: hit.distance)

    def _call(self, operation: str, call: Any) -> Any:
        try:
            return call()
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"S3 Vectors {operation}") from exc
