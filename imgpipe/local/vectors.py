"""Amazon S3 Vectors for the local stack: moto has no S3 Vectors, so this small loopback server speaks
its REST-JSON API (what botocore's `s3vectors` model sends and parses) for the function's workers
and the CLI, which reach it through AWS_ENDPOINT_URL_S3VECTORS.

Served: CreateVectorBucket, GetVectorBucket, CreateIndex, GetIndex, PutVectors, GetVectors,
DeleteVectors, QueryVectors and ListVectors, with the modelled errors (NotFoundException 404,
ConflictException 409, ValidationException 400). Queries are exact (every vector of the index is
compared: local sizes are small) through usearch's brute-force search, after the metadata filter
(pre-filtering, as S3 Vectors does): $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $and, $or;
a field given without an operator is $eq; $eq/$in on a list value match any element. Not emulated:
SigV4 (any credentials pass), KMS, tags, policies, quotas, approximate recall, indexArn addressing.

State lives in memory, like moto's; `save`/`restore` write and read it with the local snapshot.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # the local stack's (imgpipe.local.stackspec.LOCAL_ACCOUNT)
REGION = "us-east-1"
MAX_TOP_K = 100  # S3 Vectors' documented most results per query
LIST_PAGE = 500  # ListVectors' default maxResults
SNAPSHOT_FILE = "vectors.jsonl"
Json = dict[str, Any]


class ApiError(Exception):
    """An error S3 Vectors models: its code, HTTP status and message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def _invalid(message: str) -> ApiError:
    return ApiError("ValidationException", 400, message)


def _not_found(message: str) -> ApiError:
    return ApiError("NotFoundException", 404, message)


@dataclass
class Index:
    name: str
    bucket: str
    dimension: int
    metric: str
    non_filterable: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)
    vectors: dict[str, tuple[list[float], Json]] = field(default_factory=dict)  # key -> (data, metadata)

    @property
    def arn(self) -> str:
        return f"{bucket_arn(self.bucket)}/index/{self.name}"


@dataclass
class Bucket:
    name: str
    created: float = field(default_factory=time.time)
    indexes: dict[str, Index] = field(default_factory=dict)


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{name}"


class VectorStore:
    """The buckets, indexes and vectors, and the operations on them (one lock: requests are small)."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()

    def call(self, operation: str, request: Json) -> Json:
        handler = getattr(self, f"_{operation}", None)
        if handler is None:
            raise _invalid(f"operation {operation} is not emulated locally")
        with self.lock:
            result: Json = handler(request)
            return result

    # --- buckets and indexes -------------------------------------------------------------------

    def _CreateVectorBucket(self, r: Json) -> Json:
        name = _name(r, "vectorBucketName")
        if name in self.buckets:
            raise ApiError("ConflictException", 409, f"vector bucket {name} already exists")
        self.buckets[name] = Bucket(name)
        return {"vectorBucketArn": bucket_arn(name)}

    def _GetVectorBucket(self, r: Json) -> Json:
        bucket = self._bucket(r)
        return {
            "vectorBucket": {
                "vectorBucketName": bucket.name,
                "vectorBucketArn": bucket_arn(bucket.name),
                "creationTime": bucket.created,
                "encryptionConfiguration": {"sseType": "AES256"},
            }
        }

    def _CreateIndex(self, r: Json) -> Json:
        bucket = self._bucket(r)
        name = _name(r, "indexName")
        if name in bucket.indexes:
            raise ApiError("ConflictException", 409, f"index {name} already exists")
        if r.get("dataType") != "float32" or r.get("distanceMetric") not in ("cosine", "euclidean"):
            raise _invalid("dataType must be float32 and distanceMetric cosine or euclidean")
        dimension = r.get("dimension")
        if not isinstance(dimension, int) or not 1 <= dimension <= 4096:
            raise _invalid("dimension must be between 1 and 4096")
        keys = (r.get("metadataConfiguration") or {}).get("nonFilterableMetadataKeys") or []
        bucket.indexes[name] = Index(name, bucket.name, dimension, r["distanceMetric"], tuple(keys))
        return {"indexArn": bucket.indexes[name].arn}

    def _GetIndex(self, r: Json) -> Json:
        index = self._index(r)
        found: Json = {
            "vectorBucketName": index.bucket,
            "indexName": index.name,
            "indexArn": index.arn,
            "creationTime": index.created,
            "dataType": "float32",
            "dimension": index.dimension,
            "distanceMetric": index.metric,
        }
        if index.non_filterable:
            found["metadataConfiguration"] = {"nonFilterableMetadataKeys": list(index.non_filterable)}
        return {"index": found}

    # --- vectors -------------------------------------------------------------------------------

    def _PutVectors(self, r: Json) -> Json:
        index = self._index(r)
        vectors = r.get("vectors") or []
        if not 1 <= len(vectors) <= 500:
            raise _invalid("vectors must hold 1 to 500 vectors")
        checked = [
            (_key(v.get("key")), _data(v.get("data"), index), _metadata(v.get("metadata"))) for v in vectors
        ]
        for key, data, metadata in checked:  # all or nothing: every vector is checked first
            index.vectors[key] = (data, metadata)
        return {}

    def _GetVectors(self, r: Json) -> Json:
        index = self._index(r)
        keys = r.get("keys") or []
        if not 1 <= len(keys) <= 100:
            raise _invalid("keys must hold 1 to 100 keys")
        found = [
            _vector(key, index.vectors[key], r.get("returnData"), r.get("returnMetadata"))
            for key in keys
            if key in index.vectors
        ]
        return {"vectors": found}

    def _DeleteVectors(self, r: Json) -> Json:
        index = self._index(r)
        keys = r.get("keys") or []
        if not 1 <= len(keys) <= 500:
            raise _invalid("keys must hold 1 to 500 keys")
        for key in keys:
            index.vectors.pop(key, None)  # a key without a vector is no error
        return {}

    def _ListVectors(self, r: Json) -> Json:
        index = self._index(r)
        keys = sorted(index.vectors)
        start = int(r.get("nextToken") or 0)
        size = int(r.get("maxResults") or LIST_PAGE)
        page = keys[start : start + size]
        answer: Json = {
            "vectors": [
                _vector(k, index.vectors[k], r.get("returnData"), r.get("returnMetadata")) for k in page
            ]
        }
        if start + size < len(keys):
            answer["nextToken"] = str(start + size)
        return answer

    def _QueryVectors(self, r: Json) -> Json:
        index = self._index(r)
        top_k = r.get("topK")
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise _invalid(f"topK must be between 1 and {MAX_TOP_K}")
        query = _data(r.get("queryVector"), index)
        where = r.get("filter")
        if where is not None:
            check_filter(where)
        candidates = [
            (key, data, metadata)
            for key, (data, metadata) in index.vectors.items()
            if where is None or matches(where, _filterable(metadata, index))
        ]
        hits = []
        for position, distance in nearest(query, [c[1] for c in candidates], top_k, index.metric):
            key, _, metadata = candidates[position]
            hit: Json = {"key": key}
            if r.get("returnDistance"):
                hit["distance"] = distance
            if r.get("returnMetadata"):
                hit["metadata"] = metadata
            hits.append(hit)
        return {"vectors": hits, "distanceMetric": index.metric}

    # --- lookups -------------------------------------------------------------------------------

    def _bucket(self, r: Json) -> Bucket:
        name = _name(r, "vectorBucketName")
        if name not in self.buckets:
            raise _not_found(f"vector bucket {name} does not exist")
        return self.buckets[name]

    def _index(self, r: Json) -> Index:
        bucket = self._bucket(r)
        name = _name(r, "indexName")
        if name not in bucket.indexes:
            raise _not_found(f"index {name} does not exist in vector bucket {bucket.name}")
        return bucket.indexes[name]

    # --- snapshot ------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Every vector, one JSON line each, with its bucket and index (written whole, then renamed)."""
        with self.lock:
            lines = [
                json.dumps({"bucket": b.name, "index": i.name, "key": k, "data": d, "metadata": m})
                for b in self.buckets.values()
                for i in b.indexes.values()
                for k, (d, m) in i.vectors.items()
            ]
        partial = folder / (SNAPSHOT_FILE + ".new")
        partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        partial.replace(folder / SNAPSHOT_FILE)

    def restore(self, folder: Path, new_versions: Mapping[str, str] | None = None) -> int:
        """Put back the vectors of indexes that exist now; `new_versions` (image key -> the version its
        object got when it was put back) rewrites their version_tag as the records' are rewritten."""
        path = folder / SNAPSHOT_FILE
        if not path.exists():
            return 0
        count = 0
        with self.lock:
            for line in path.read_text(encoding="utf-8").splitlines():
                saved = json.loads(line)
                index = self.buckets.get(saved["bucket"], Bucket("")).indexes.get(saved["index"])
                if index is None or len(saved["data"]) != index.dimension:
                    continue  # the stack no longer has that index (or it changed shape): nothing to keep
                metadata = dict(saved["metadata"])
                if new_versions and saved["key"] in new_versions and "version_tag" in metadata:
                    metadata["version_tag"] = new_versions[saved["key"]]
                index.vectors[saved["key"]] = (saved["data"], metadata)
                count += 1
        return count


def nearest(
    query: list[float], vectors: list[list[float]], top_k: int, metric: str
) -> Iterator[tuple[int, float]]:
    """(position, distance) of the `top_k` vectors nearest `query`, nearest first, by exact search."""
    import numpy as np
    from usearch.index import MetricKind, search  # type: ignore[attr-defined]

    count = min(top_k, len(vectors))
    if count == 0:
        return iter(())
    dataset = np.asarray(vectors, dtype=np.float32)
    kind = MetricKind.Cos if metric == "cosine" else MetricKind.L2sq
    found = search(dataset, np.asarray(query, dtype=np.float32), count, kind, exact=True)
    distances = [float(d) if metric == "cosine" else math.sqrt(max(float(d), 0.0)) for d in found.distances]
    return iter(sorted(zip((int(k) for k in found.keys), distances, strict=True), key=lambda kd: kd[1]))


def _filterable(metadata: Json, index: Index) -> Json:
    return {k: v for k, v in metadata.items() if k not in index.non_filterable}


# --- metadata filters ------------------------------------------------------------------------------

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
_MISSING = object()


def check_filter(where: Any) -> None:
    """ValidationException for a filter S3 Vectors would refuse (unknown operator, wrong operand)."""
    if not isinstance(where, dict) or not where:
        raise _invalid("a filter is a non-empty JSON object")
    for name, condition in where.items():
        if name in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise _invalid(f"{name} takes a non-empty array of filters")
            for part in condition:
                check_filter(part)
        elif name.startswith("$"):
            raise _invalid(f"unknown logical operator {name}")
        elif isinstance(condition, dict):
            for operator, operand in condition.items():
                _check_operand(operator, operand)
        else:
            _check_operand("$eq", condition)


def _check_operand(operator: str, operand: Any) -> None:
    primitive = (str, int, float, bool)
    if operator not in COMPARISONS:
        raise _invalid(f"unknown operator {operator}")
    if operator in ("$eq", "$ne") and not isinstance(operand, primitive):
        raise _invalid(f"{operator} takes a string, number or boolean")
    if operator in ("$gt", "$gte", "$lt", "$lte") and (
        isinstance(operand, bool) or not isinstance(operand, (int, float))
    ):
        raise _invalid(f"{operator} takes a number")
    if operator in ("$in", "$nin") and (
        not isinstance(operand, list) or not operand or not all(isinstance(x, primitive) for x in operand)
    ):
        raise _invalid(f"{operator} takes a non-empty array of strings, numbers or booleans")
    if operator == "$exists" and not isinstance(operand, bool):
        raise _invalid("$exists takes a boolean")


def matches(where: Json, metadata: Json) -> bool:
    """Whether `metadata` passes the (checked) filter: every field's condition, and each $and/$or."""
    for name, condition in where.items():
        if name == "$and":
            ok = all(matches(part, metadata) for part in condition)
        elif name == "$or":
            ok = any(matches(part, metadata) for part in condition)
        elif isinstance(condition, dict):
            value = metadata.get(name, _MISSING)
            ok = all(_compare(operator, operand, value) for operator, operand in condition.items())
        else:
            ok = _compare("$eq", condition, metadata.get(name, _MISSING))
        if not ok:
            return False
    return True


def _compare(operator: str, operand: Any, value: Any) -> bool:
    if operator == "$exists":
        return (value is not _MISSING) is bool(operand)
    values = value if isinstance(value, list) else [value]  # a list value matches by any element
    if operator == "$eq":
        return any(_same(v, operand) for v in values)
    if operator == "$ne":
        return not any(_same(v, operand) for v in values)
    if operator == "$in":
        return any(_same(v, o) for v in values for o in operand)
    if operator == "$nin":
        return not any(_same(v, o) for v in values for o in operand)
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    bound = float(operand)
    if operator == "$gt":
        return any(v > bound for v in numbers)
    if operator == "$gte":
        return any(v >= bound for v in numbers)
    if operator == "$lt":
        return any(v < bound for v in numbers)
    return any(v <= bound for v in numbers)  # $lte


def _same(value: Any, operand: Any) -> bool:
    """Equal and of the same kind: True is not 1, "1" is not 1."""
    return isinstance(value, bool) == isinstance(operand, bool) and bool(value == operand)


# --- request parts ---------------------------------------------------------------------------------


def _name(r: Json, field_name: str) -> str:
    value = r.get(field_name)
    if not isinstance(value, str) or not 3 <= len(value) <= 63:
        raise _invalid(f"{field_name} must be 3 to 63 characters")
    return value


def _key(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 1024:
        raise _invalid("a vector key must be 1 to 1024 characters")
    return value


def _data(value: Any, index: Index) -> list[float]:
    numbers = (value or {}).get("float32") if isinstance(value, dict) else None
    if not isinstance(numbers, list) or len(numbers) != index.dimension:
        got = len(numbers) if isinstance(numbers, list) else "none"
        raise _invalid(
            f"the vector must have {index.dimension} float32 values (the index's dimension), got {got}"
        )
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
        raise _invalid("vector values must be finite numbers")
    if index.metric == "cosine" and not any(numbers):
        raise _invalid("a zero vector has no direction: cosine distance is undefined")
    return [float(x) for x in numbers]


def _metadata(value: Any) -> Json:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("metadata must be a JSON object")
    return dict(value)


def _vector(key: str, stored: tuple[list[float], Json], data: Any, metadata: Any) -> Json:
    found: Json = {"key": key}
    if data:
        found["data"] = {"float32": stored[0]}
    if metadata:
        found["metadata"] = stored[1]
    return found


# --- the HTTP server -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    store: VectorStore  # set on the subclass each server makes

    def do_POST(self) -> None:
        operation = self.path.strip("/").split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
            except ValueError as exc:
                raise _invalid(f"the body is not JSON: {exc}") from exc
            self._answer(200, self.store.call(operation, request))
        except ApiError as error:
            self._answer(error.status, {"message": error.message}, error.code)

    def _answer(self, status: int, body: Json, error_code: str | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if error_code:
            self.send_header("X-Amzn-ErrorType", error_code)  # where botocore's rest-json reads the code
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the workers log
        return


class VectorServer:
    """The store behind an HTTP server on loopback, in a thread of this process."""

    def __init__(self, store: VectorStore | None = None, port: int = 0) -> None:
        self.store = store or VectorStore()
        handler = type("Handler", (_Handler,), {"store": self.store})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3vectors", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> VectorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> VectorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m imgpipe.local.vectors`: the S3 Vectors server alone, in its own process, until SIGTERM
    (benchmarks). Prints its endpoint as the first line of stdout."""
    parser = argparse.ArgumentParser(description="imgpipe's local S3 Vectors (loopback only).")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with VectorServer(port=args.port) as server:
        print(server.endpoint, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


@contextmanager
def running_vector_server(port: int = 0) -> Iterator[VectorServer]:
    server = VectorServer(port=port).start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
