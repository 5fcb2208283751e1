"""The embedding analysis in the pipeline: moto's S3/DynamoDB, the AI double's InvokeModel (Titan
Multimodal Embeddings G1 on the wire), and an in-memory vector index (tests/vector_index.py, a test
double: moto has no S3 Vectors) in the Runtime. Vectors go to the index with the final record's
metadata, leave with the image, are reused for identical bytes, and never overwrite a newer upload's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from image_analysis.adapters.embeddings import Embeddings
from image_analysis.domain.errors import TransientError
from image_analysis.domain.intake import CREATED, REMOVED, S3Event
from image_analysis.domain.states import EventOutcome, ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime, build_runtime, client_config
from image_analysis.settings import Settings

from imgpipe.simulated.ai_answers import fingerprint
from imgpipe.simulated.ai_services import AiServicesDouble
from imgpipe.simulated.embeddings import cosine
from tests.imagegen import BLUE, RED, jpeg
from tests.integration.test_pipeline import Upload, read_json, read_text, record
from tests.support import Stack
from tests.vector_index import InMemoryVectorIndex

DIMENSION = 256
MODEL = "amazon.titan-embed-image-v1"


@pytest.fixture
def upload(stack: Stack) -> Upload:
    def put(key: str, data: bytes) -> S3Event:
        response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
        etag = response["ETag"].strip('"')
        return S3Event(CREATED, stack.bucket, key, response.get("VersionId"), etag, len(data))

    return put


@pytest.fixture
def index() -> InMemoryVectorIndex:
    return InMemoryVectorIndex(DIMENSION)


@pytest.fixture
def runtime(settings: Settings, index: InMemoryVectorIndex) -> Iterator[Runtime]:
    """The function's runtime with embeddings on: the real adapter through the double, and the
    in-memory index in place of S3 Vectors."""
    on = replace(
        settings,
        enable_embeddings=True,
        embedding_dimension=DIMENSION,
        vector_bucket="local-vectors",
        vector_index="image-embeddings",
    )
    rt = build_runtime(settings)  # embeddings off: no s3vectors client is built against moto
    bedrock = boto3.client("bedrock-runtime", config=client_config(on, on.embedding_read_timeout_s))
    rt = replace(rt, settings=on, embeddings=Embeddings(bedrock), vectors=index)
    yield rt
    rt.executor.shutdown(wait=True)


def invocations(double: AiServicesDouble) -> list[dict[str, Any]]:
    return [call for call in double.calls if call["operation"] == "InvokeModel"]


def embed_text(runtime: Runtime, text: str) -> list[float]:
    assert runtime.embeddings is not None
    return runtime.embeddings.embed_text(text, model_id=MODEL, dimension=DIMENSION)


def test_an_analysed_image_has_its_vector_with_the_final_records_metadata(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    data = jpeg((1600, 1200), RED)
    outcome, result = handle_event(upload("images/red.jpg", data), runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None
    # one InvokeModel, on the Bedrock rendition of this image, at the configured length
    (call,) = invocations(double)
    assert (call["model_id"], call["dimension"], call["outcome"]) == (MODEL, DIMENSION, "OK")
    assert call["images"][0]["fingerprint"] == fingerprint(data) and call["images"][0]["width"] == 1024
    # the vector is in the index under the image key, with the record's status, flags and version
    vector, metadata = index.stored["images/red.jpg"]
    item = record(runtime, "images/red.jpg")
    assert item is not None and len(vector) == DIMENSION
    assert sorted(metadata.pop("labels")) == ["colour", "object", "photograph", "red"]  # lower-case
    assert metadata == {
        "status": "complete",
        "flagged": True,  # the double flags saturated red
        "has_text": True,
        "has_pii": False,
        "version_tag": item["version_tag"],
        "sha256": item["sha256"],
    }
    # and the document says it was embedded, never the vector itself
    document = read_json(stack, "images/red.jpg")
    assert document["analyses"]["embedding"] == {"model_id": MODEL, "dimension": DIMENSION}
    assert document["analyses"]["outcomes"]["embedding"]["status"] == "ok"
    assert str(round(vector[0], 6))[:8] not in json.dumps(document)
    assert "embedding:" not in read_text(stack, "images/red.jpg")  # an ok analysis is not listed


def test_a_phrase_finds_the_pictures_that_show_it(
    runtime: Runtime, upload: Upload, index: InMemoryVectorIndex
) -> None:
    for key, colour in (("images/a.jpg", RED), ("images/b.jpg", BLUE), ("images/c.jpg", (200, 30, 60))):
        assert handle_event(upload(key, jpeg(colour=colour)), runtime)[0] == ImageStatus.COMPLETE
    hits = index.query(embed_text(runtime, "crimson"), top_k=3)
    assert [hit.key for hit in hits][2] == "images/b.jpg"  # the two red pictures come first
    assert {hit.key for hit in hits[:2]} == {"images/a.jpg", "images/c.jpg"}
    assert hits[0].similarity > 0.6 > 0.2 > hits[2].similarity


def test_the_cost_counts_the_embedding_call(runtime: Runtime, upload: Upload) -> None:
    runtime.settings = replace(
        runtime.settings,
        price_rekognition_image_usd=0.0,
        price_bedrock_input_mtok_usd=0.0,
        price_bedrock_output_mtok_usd=0.0,
        price_comprehend_unit_usd=0.0,
        price_embedding_image_usd=0.25,
    )
    _, result = handle_event(upload("images/priced.jpg", jpeg(colour=BLUE)), runtime)
    assert result is not None
    assert (result.cost.embedded_images, result.cost.estimated_usd) == (1, 0.25)


def test_removal_deletes_the_vector(
    stack: Stack, runtime: Runtime, upload: Upload, index: InMemoryVectorIndex
) -> None:
    handle_event(upload("images/gone.jpg", jpeg(colour=BLUE)), runtime)
    assert "images/gone.jpg" in index.stored
    stack.s3.delete_object(Bucket=stack.bucket, Key="images/gone.jpg")
    outcome, _ = handle_event(S3Event(REMOVED, stack.bucket, "images/gone.jpg"), runtime)
    assert outcome == EventOutcome.REMOVED
    assert "images/gone.jpg" not in index.stored and record(runtime, "images/gone.jpg") is None


def test_identical_bytes_copy_the_vector_and_duplicates_leave_it(
    runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    data = jpeg(colour=BLUE)
    first = upload("images/one.jpg", data)
    handle_event(first, runtime)
    # a duplicate delivery: acknowledged, no model call, the vector untouched
    assert handle_event(first, runtime)[0] == EventOutcome.DUPLICATE
    # the same bytes under another key: the analysis and the vector are reused, at no cost
    outcome, result = handle_event(upload("images/two.jpg", data), runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None and result.reused_from == "images/one.jpg"
    assert len(invocations(double)) == 1 and index.calls["put"] == 2
    (one, _), (two, metadata) = index.stored["images/one.jpg"], index.stored["images/two.jpg"]
    assert two == one and metadata["version_tag"] == record(runtime, "images/two.jpg")["version_tag"]  # type: ignore[index]
    assert result.analyses.outcomes["embedding"].reason == "the vector of images/one.jpg (same bytes)"
    assert (result.cost.embedded_images, result.cost.estimated_usd) == (0, 0.0)


def test_identical_bytes_whose_vector_is_gone_are_embedded_afresh(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    data = jpeg(colour=RED)
    handle_event(upload("images/first.jpg", data), runtime)
    stack.s3.delete_object(Bucket=stack.bucket, Key="images/first.jpg")
    handle_event(S3Event(REMOVED, stack.bucket, "images/first.jpg"), runtime)
    # the content cache still knows the bytes, but their vector left with images/first.jpg
    outcome, result = handle_event(upload("images/again.jpg", data), runtime)
    assert outcome == ImageStatus.COMPLETE and result is not None and result.reused_from == "images/first.jpg"
    assert len(invocations(double)) == 2
    assert [c for c in double.calls if c["operation"] == "Converse"][1:] == []  # nothing else re-ran
    assert "images/again.jpg" in index.stored and result.cost.embedded_images == 1


def test_a_vector_of_other_bytes_under_the_source_key_is_not_copied(
    runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    data = jpeg(colour=RED)
    handle_event(upload("images/src.jpg", data), runtime)
    handle_event(upload("images/src.jpg", jpeg(colour=BLUE)), runtime)  # uploaded over: other bytes
    _, result = handle_event(upload("images/copy.jpg", data), runtime)
    assert result is not None and result.reused_from == "images/src.jpg"
    assert len(invocations(double)) == 3  # red, blue, and red again: the blue vector was not taken
    red, blue = index.stored["images/copy.jpg"][0], index.stored["images/src.jpg"][0]
    assert cosine(red, embed_text(runtime, "red")) > 0.5 > cosine(blue, embed_text(runtime, "red"))


def test_a_permanent_embedding_failure_makes_the_image_partial_and_drops_the_old_vector(
    stack: Stack, runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    handle_event(upload("images/p.jpg", jpeg(colour=RED)), runtime)
    assert "images/p.jpg" in index.stored
    double.fail_next("InvokeModel", 1, "ValidationException")
    outcome, result = handle_event(upload("images/p.jpg", jpeg(colour=BLUE)), runtime)
    assert outcome == ImageStatus.PARTIAL and result is not None
    assert result.analyses.outcomes["embedding"].status == "failed"
    assert "ValidationException" in (result.analyses.outcomes["embedding"].reason or "")
    assert result.analyses.embedding is None and result.analyses.labels  # the rest stands
    assert "images/p.jpg" not in index.stored  # the red picture's vector must not find the blue one
    assert "embedding: failed" in read_text(stack, "images/p.jpg")


def test_a_transient_embedding_failure_retries_the_message(
    runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    event = upload("images/t.jpg", jpeg(colour=BLUE))
    double.fail_next("InvokeModel", 2, "ThrottlingException")  # both attempts of max_attempts=2
    with pytest.raises(TransientError, match="InvokeModel"):
        handle_event(event, runtime)
    assert record(runtime, "images/t.jpg")["status"] == "retrying"  # type: ignore[index]
    assert index.stored == {}
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE
    assert index.stored["images/t.jpg"][1]["status"] == "complete"


def test_the_metadata_carries_a_partial_status(
    runtime: Runtime, upload: Upload, double: AiServicesDouble, index: InMemoryVectorIndex
) -> None:
    double.fail_next("DetectLabels", 2, "InvalidParameterException")
    outcome, _ = handle_event(upload("images/half.jpg", jpeg(colour=BLUE)), runtime)
    assert outcome == ImageStatus.PARTIAL
    assert index.stored["images/half.jpg"][1]["status"] == "partial"
    assert "labels" not in index.stored["images/half.jpg"][1]  # none found: no empty list


def test_an_index_refusing_the_vector_makes_the_image_partial(
    stack: Stack, runtime: Runtime, upload: Upload
) -> None:
    index = runtime.vectors = InMemoryVectorIndex(1024)  # made with another dimension than the knob's
    outcome, result = handle_event(upload("images/r.jpg", jpeg(colour=BLUE)), runtime)
    assert outcome == ImageStatus.PARTIAL and result is not None
    reason = result.analyses.outcomes["embedding"].reason or ""
    assert reason.startswith("the vector index refused the vector") and "dimension 1024" in reason
    assert index.stored == {}
    assert record(runtime, "images/r.jpg")["status"] == "partial"  # type: ignore[index]
    assert read_json(stack, "images/r.jpg")["analyses"]["outcomes"]["embedding"]["status"] == "failed"


def test_a_transient_index_failure_retries_and_leaves_no_vector(
    runtime: Runtime, upload: Upload, index: InMemoryVectorIndex
) -> None:
    event = upload("images/slow.jpg", jpeg(colour=BLUE))
    index.fail_next("put", TransientError("S3 Vectors PutVectors: ThrottlingException: slow down"))
    with pytest.raises(TransientError, match="PutVectors"):
        handle_event(event, runtime)
    assert index.stored == {} and record(runtime, "images/slow.jpg")["status"] == "retrying"  # type: ignore[index]
    assert handle_event(event, runtime)[0] == ImageStatus.COMPLETE and "images/slow.jpg" in index.stored


def test_a_slow_analysis_never_overwrites_the_vector_of_a_newer_upload(
    runtime: Runtime, upload: Upload, index: InMemoryVectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = upload("images/race.jpg", jpeg(colour=RED))
    store = runtime.cache.store

    def newer_upload_meanwhile(*args: Any) -> None:
        # After the older version's analysis, before its vector is written: a newer version is
        # uploaded and analysed to the end.
        monkeypatch.setattr(runtime.cache, "store", store)
        store(*args)
        assert handle_event(upload("images/race.jpg", jpeg(colour=BLUE)), runtime)[0] == ImageStatus.COMPLETE

    monkeypatch.setattr(runtime.cache, "store", newer_upload_meanwhile)
    outcome, _ = handle_event(older, runtime)
    assert outcome == EventOutcome.SUPERSEDED
    item = record(runtime, "images/race.jpg")
    vector, metadata = index.stored["images/race.jpg"]
    assert item is not None and metadata["version_tag"] == item["version_tag"] != older.version_id
    assert cosine(vector, embed_text(runtime, "blue")) > 0.5  # the newer (blue) picture's vector
    assert index.calls["put"] == 1  # the older analysis wrote none
