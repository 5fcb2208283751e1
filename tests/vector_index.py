"""An in-memory stand-in for the stack's S3 Vectors index: a TEST DOUBLE, not S3 Vectors.

moto has no s3vectors, so the integration tests give the Runtime this VectorIndex (same methods, no
client) until imgpipe's local S3 Vectors emulation can serve the real adapter. It keeps what
PutVectors would store, answers get/delete/query (cosine distance, nearest first; a filter of
top-level `key: value` or `{"$eq"|"$in": ...}` pairs), refuses a vector of another length as
S3 Vectors does (ValidationException, already translated), counts calls per operation, and fails the
next calls of an operation on demand.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from image_analysis.adapters.vectors import Metadata, Neighbour, VectorIndex
from image_analysis.domain.errors import AnalysisFailed, PipelineError


class InMemoryVectorIndex(VectorIndex):
    def __init__(self, dimension: int) -> None:  # no client: nothing goes over the wire
        self.dimension = dimension
        self.stored: dict[str, tuple[list[float], dict[str, Any]]] = {}
        self.calls: Counter[str] = Counter()
        self._failures: defaultdict[str, deque[PipelineError]] = defaultdict(deque)

    def fail_next(self, operation: str, error: PipelineError, n: int = 1) -> None:
        """The next n calls of `operation` ("put", "get", "delete", "query") raise `error`."""
        self._failures[operation].extend([error] * n)

    def put(self, key: str, vector: list[float], metadata: Metadata) -> None:
        self._record("put")
        if len(vector) != self.dimension:
            raise AnalysisFailed(
                "ValidationException",
                f"S3 Vectors PutVectors refused the request: the index has dimension {self.dimension}, "
                f"the vector {len(vector)}",
            )
        self.stored[key] = (list(vector), dict(metadata))

    def get(self, key: str) -> tuple[list[float], dict[str, Any]] | None:
        self._record("get")
        found = self.stored.get(key)
        return (list(found[0]), dict(found[1])) if found else None

    def delete(self, keys: Iterable[str]) -> None:
        self._record("delete")
        for key in keys:
            self.stored.pop(key, None)

    def query(
        self, vector: list[float], top_k: int, where: Mapping[str, Any] | None = None
    ) -> list[Neighbour]:
        self._record("query")
        hits = [
            Neighbour(key, 1.0 - _cosine(vector, stored), dict(metadata))
            for key, (stored, metadata) in self.stored.items()
            if _matches(metadata, where or {})
        ]
        return sorted(hits, key=lambda hit: hit.distance)[:top_k]

    def _record(self, operation: str) -> None:
        self.calls[operation] += 1
        if self._failures[operation]:
            raise self._failures[operation].popleft()


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm


def _matches(metadata: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    for name, wanted in where.items():
        value = metadata.get(name)
        values = value if isinstance(value, list) else [value]
        if isinstance(wanted, Mapping) and "$in" in wanted:
            if not set(values) & set(wanted["$in"]):
                return False
        elif (wanted["$eq"] if isinstance(wanted, Mapping) else wanted) not in values:
            return False
    return True
