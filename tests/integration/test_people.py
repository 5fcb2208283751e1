"""The people analysis through the whole pipeline: moto's S3 and DynamoDB, and the AI double's face
collection (a face's identity there is its tone and shape: imgpipe/simulated/faces.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from image_analysis.domain import table as t
from image_analysis.domain.errors import TransientError
from image_analysis.domain.faces import external_image_id
from image_analysis.domain.intake import REMOVED, S3Event
from image_analysis.domain.states import EventOutcome, ImageStatus
from image_analysis.pipeline import handle_event
from image_analysis.runtime import Runtime, build_runtime
from image_analysis.settings import Settings

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import SKIN_DARK, portrait
from tests.integration.test_faces import upload
from tests.support import Stack

ALICE = portrait([(0.2, 0.2, 0.24, 0.4)])  # one face
ALICE_AGAIN = portrait([(0.5, 0.1, 0.3, 0.5)], size=(1024, 768), smiling=False)  # same tone and shape
TWO = portrait([(0.05, 0.2, 0.24, 0.4), (0.6, 0.2, 0.24, 0.4)], tone=SKIN_DARK)


@pytest.fixture
def people(settings: Settings, double: AiServicesDouble) -> Iterator[Runtime]:
    collection = f"people-{uuid.uuid4().hex[:8]}"
    boto3.client("rekognition").create_collection(CollectionId=collection)
    rt = build_runtime(replace(settings, enable_people=True, people_collection=collection))
    yield rt
    rt.executor.shutdown(wait=True)


def collection_faces(double: AiServicesDouble, rt: Runtime) -> dict[str, str | None]:
    return {
        f.face_id: f.external_image_id for f in double.collections.faces_in(rt.settings.people_collection)
    }


def face_item(stack: Stack, face_id: str) -> dict[str, Any] | None:
    item = stack.dynamodb.get_item(
        TableName=stack.table, Key={"pk": {"S": t.face_pk(face_id)}, "sk": {"S": "FACE"}}
    )
    return item.get("Item")


def removed(stack: Stack, key: str) -> S3Event:
    stack.s3.delete_object(Bucket=stack.bucket, Key=key)
    return S3Event(REMOVED, stack.bucket, key)


def test_faces_are_indexed_tied_to_their_image_and_found_again(
    stack: Stack, people: Runtime, double: AiServicesDouble
) -> None:
    outcome, two = handle_event(upload(stack, "images/two.jpg", TWO), people)
    _, alice = handle_event(upload(stack, "images/alice.jpg", ALICE), people)
    _, again = handle_event(upload(stack, "images/alice-again.jpg", ALICE_AGAIN), people)
    assert outcome == ImageStatus.COMPLETE and two and alice and again
    assert len(two.analyses.people) == 2 and two.analyses.outcomes["people"].status == "ok"
    assert two.cost.rekognition_images == 5  # IndexFaces is billed as one more image
    ids = [f.face_id for f in two.analyses.people]
    in_collection = collection_faces(double, people)
    assert {in_collection[i] for i in ids} == {external_image_id("images/two.jpg")}
    record = people.claims.get("images/two.jpg")
    assert record is not None and record["face_ids"] == ids
    assert all(face_item(stack, i)["image_key"]["S"] == "images/two.jpg" for i in ids)  # type: ignore[index]
    # the same face in another picture is found; the faces of another tone are not
    (alice_face,) = alice.analyses.people
    matches = people.collection.search(alice_face.face_id, threshold=90)  # type: ignore[union-attr]
    assert [m.face_id for m in matches] == [again.analyses.people[0].face_id]


def test_removal_deletes_the_images_faces_and_their_names(
    stack: Stack, people: Runtime, double: AiServicesDouble
) -> None:
    _, result = handle_event(upload(stack, "images/two.jpg", TWO), people)
    handle_event(upload(stack, "images/alice.jpg", ALICE), people)
    assert result is not None
    ids = [f.face_id for f in result.analyses.people]
    people.people.name_face(ids[0], "Bob", "2026-12-01T00:00:00Z")
    assert handle_event(removed(stack, "images/two.jpg"), people)[0] == EventOutcome.REMOVED
    left = collection_faces(double, people)
    assert not set(ids) & set(left) and len(left) == 1  # Alice's face stays
    assert all(face_item(stack, i) is None for i in ids)
    assert people.people.named("Bob") == []
    assert [c["operation"] for c in double.calls].count("DeleteFaces") == 1


def test_a_new_analysis_of_a_key_replaces_its_faces(
    stack: Stack, people: Runtime, double: AiServicesDouble
) -> None:
    _, first = handle_event(upload(stack, "images/photo.jpg", TWO), people)
    _, second = handle_event(upload(stack, "images/photo.jpg", ALICE), people)
    assert first is not None and second is not None
    assert set(collection_faces(double, people)) == {f.face_id for f in second.analyses.people}
    assert all(face_item(stack, f.face_id) is None for f in first.analyses.people)


def test_identical_bytes_under_another_key_index_their_own_faces(
    stack: Stack, people: Runtime, double: AiServicesDouble
) -> None:
    handle_event(upload(stack, "images/a.jpg", ALICE), people)
    _, copy = handle_event(upload(stack, "images/b.jpg", ALICE), people)
    assert copy is not None and copy.reused_from is None  # no content cache with people on
    assert sorted(collection_faces(double, people).values()) == sorted(
        external_image_id(k) for k in ("images/a.jpg", "images/b.jpg")
    )


def test_faces_of_a_result_that_is_not_committed_leave_the_collection(
    stack: Stack, people: Runtime, double: AiServicesDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(*_: Any) -> bool:
        return False

    monkeypatch.setattr(people.claims, "finish", lost)  # another version took the key meanwhile
    with pytest.raises(TransientError):  # and the same version is current: analysed again later
        handle_event(upload(stack, "images/lost.jpg", TWO), people)
    assert collection_faces(double, people) == {}

    def failing(*_: Any) -> bool:
        raise TransientError("DynamoDB is throttling")

    monkeypatch.setattr(people.claims, "finish", failing)
    with pytest.raises(TransientError, match="throttling"):
        handle_event(upload(stack, "images/later.jpg", TWO), people)
    assert collection_faces(double, people) == {}


def test_switched_off_nothing_is_indexed(stack: Stack, runtime: Runtime, double: AiServicesDouble) -> None:
    _, result = handle_event(upload(stack, "images/off.jpg", TWO), runtime)
    assert result is not None and result.analyses.outcomes["people"].reason == "switched off"
    assert "IndexFaces" not in [c["operation"] for c in double.calls]
    assert runtime.claims.get("images/off.jpg")["face_ids"] == []  # type: ignore[index]
