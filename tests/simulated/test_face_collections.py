"""The AI double's face collections on the wire, through a real boto3 client: the shapes, limits and
errors of the botocore model (imgpipe/simulated/face_collections.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.imagegen import SKIN_DARK, jpeg, portrait

FACE = portrait([(0.2, 0.2, 0.24, 0.4)])
SAME_FACE = portrait([(0.5, 0.1, 0.3, 0.5)], size=(1024, 768))


@pytest.fixture
def rekognition(double: AiServicesDouble) -> Any:
    client = boto3.client("rekognition", endpoint_url=double.endpoint_url)
    client.create_collection(CollectionId="wire")
    return client


def code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_index_search_list_and_delete_round_trip(rekognition: Any) -> None:
    indexed = rekognition.index_faces(CollectionId="wire", Image={"Bytes": FACE}, ExternalImageId="sha256:ab")
    ((record,),) = [indexed["FaceRecords"]]
    face = record["Face"]
    assert face["ExternalImageId"] == "sha256:ab" and record["FaceDetail"]["Confidence"] > 90
    other = rekognition.index_faces(CollectionId="wire", Image={"Bytes": SAME_FACE})["FaceRecords"][0]["Face"]
    stranger = portrait([(0.2, 0.2, 0.24, 0.4)], tone=SKIN_DARK)
    rekognition.index_faces(CollectionId="wire", Image={"Bytes": stranger})
    found = rekognition.search_faces(CollectionId="wire", FaceId=face["FaceId"], FaceMatchThreshold=90)
    assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [other["FaceId"]]
    assert found["SearchedFaceId"] == face["FaceId"] and found["FaceMatches"][0]["Similarity"] >= 90
    by_image = rekognition.search_faces_by_image(CollectionId="wire", Image={"Bytes": SAME_FACE})
    assert {m["Face"]["FaceId"] for m in by_image["FaceMatches"]} == {face["FaceId"], other["FaceId"]}
    first = rekognition.list_faces(CollectionId="wire", MaxResults=2)
    rest = rekognition.list_faces(CollectionId="wire", MaxResults=2, NextToken=first["NextToken"])
    assert len(first["Faces"]) == 2 and len(rest["Faces"]) == 1 and "NextToken" not in rest
    deleted = rekognition.delete_faces(
        CollectionId="wire", FaceIds=[face["FaceId"], "00000000-0000-4000-8000-000000000000"]
    )
    assert deleted["DeletedFaces"] == [face["FaceId"]]
    assert deleted["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["FACE_NOT_FOUND"]


def test_collection_errors_are_the_services(rekognition: Any) -> None:
    assert (
        code(lambda: rekognition.create_collection(CollectionId="wire")) == "ResourceAlreadyExistsException"
    )
    assert code(lambda: rekognition.index_faces(CollectionId="nope", Image={"Bytes": FACE})) == (
        "ResourceNotFoundException"
    )
    bad_external = {"CollectionId": "wire", "Image": {"Bytes": FACE}, "ExternalImageId": "images/a b.jpg"}
    assert code(lambda: rekognition.index_faces(**bad_external)) == "InvalidParameterException"
    no_face = {"CollectionId": "wire", "Image": {"Bytes": jpeg((640, 480))}}
    assert code(lambda: rekognition.search_faces_by_image(**no_face)) == "InvalidParameterException"
    assert code(lambda: rekognition.delete_faces(CollectionId="wire", FaceIds=["not-a-face-id"])) == (
        "InvalidParameterException"
    )
    too_small = {"CollectionId": "wire", "Image": {"Bytes": portrait([(0.2, 0.2, 0.5, 0.5)], size=(60, 60))}}
    assert code(lambda: rekognition.index_faces(**too_small)) == "InvalidParameterException"


def test_max_faces_leaves_the_smaller_faces_unindexed(rekognition: Any) -> None:
    crowd = portrait([(0.05, 0.2, 0.3, 0.5), (0.6, 0.2, 0.15, 0.25)])
    answer = rekognition.index_faces(CollectionId="wire", Image={"Bytes": crowd}, MaxFaces=1)
    assert len(answer["FaceRecords"]) == 1 and answer["UnindexedFaces"][0]["Reasons"] == ["EXCEEDS_MAX_FACES"]
