"""Amazon DynamoDB adapter for the people analysis' items (layout in domain/table.py): which image
each indexed face is in, and the names people gave faces.

A face item (pk=FACE#<id>, sk=FACE) holds the image key and, once named, the person; a person item
(pk=PERSON#<name>, sk=FACE#<id>) lists a named face under its name. No biometric data is stored
here: the face's feature vector lives in the Rekognition collection only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain import table as t
from ..domain.faces import IndexedFace
from . import dynamodb as ddb
from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25


class PeopleItems:
    """The face and person items of one results table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.name = table_name

    def add_faces(self, image_key: str, faces: list[IndexedFace], now_iso: str) -> None:
        items = [
            {
                "pk": t.face_pk(face.face_id),
                "sk": t.FACE_SK,
                "face_id": face.face_id,
                "image_key": image_key,
                "box": {
                    "left": face.box.left,
                    "top": face.box.top,
                    "width": face.box.width,
                    "height": face.box.height,
                },
                "indexed_at": now_iso,
            }
            for face in faces
        ]
        self._write([{"PutRequest": {"Item": ddb.to_item(item)}} for item in items])

    def faces(self, face_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Face items by face id (ids without an item are absent)."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(face_ids))
        for start in range(0, len(ids), BATCH_GET_MAX):
            pending: dict[str, Any] = {
                self.name: {
                    "Keys": [ddb.key(t.face_pk(i), t.FACE_SK) for i in ids[start : start + BATCH_GET_MAX]]
                }
            }
            while pending:
                try:
                    response = self.client.batch_get_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as exc:
                    raise translate(exc, "DynamoDB BatchGetItem (faces)") from exc
                for item in response.get("Responses", {}).get(self.name, []):
                    face = ddb.from_item(item)
                    found[face["face_id"]] = face
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def name_face(self, face_id: str, person: str, now_iso: str) -> dict[str, Any]:
        """Name a face (renaming moves it to the new name); returns its face item. LookupError when no
        image holds that face."""
        face = self._face(face_id)
        if face is None:
            raise LookupError(face_id)
        if face.get("person"):
            self._write(
                [{"DeleteRequest": {"Key": ddb.key(t.person_pk(face["person"]), t.person_sk(face_id))}}]
            )
        person_item = {
            "pk": t.person_pk(person),
            "sk": t.person_sk(face_id),
            "person": person,
            "face_id": face_id,
            "image_key": face["image_key"],
            "named_at": now_iso,
        }
        self._write(
            [
                {"PutRequest": {"Item": ddb.to_item(person_item)}},
                {"PutRequest": {"Item": ddb.to_item({**face, "person": person, "named_at": now_iso})}},
            ]
        )
        return {**face, "person": person}

    def named(self, person: str) -> list[str]:
        """The face ids named after `person` (a Query on the person's partition)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": t.person_pk(person)}},
        }
        ids: list[str] = []
        try:
            while True:
                response = self.client.query(**kwargs)
                ids += [ddb.from_item(item)["face_id"] for item in response.get("Items", [])]
                if "LastEvaluatedKey" not in response:
                    return ids
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "DynamoDB Query (person)") from exc

    def forget(self, face_ids: list[str]) -> None:
        """Delete the face items of these faces, and their names. Reads each face with GetItem (the
        function's role has no BatchGetItem; an image has at most 50 indexed faces)."""
        requests = []
        for face_id in dict.fromkeys(face_ids):
            face = self._face(face_id)
            requests.append({"DeleteRequest": {"Key": ddb.key(t.face_pk(face_id), t.FACE_SK)}})
            if face and face.get("person"):
                key = ddb.key(t.person_pk(face["person"]), t.person_sk(face_id))
                requests.append({"DeleteRequest": {"Key": key}})
        self._write(requests)

    def _face(self, face_id: str) -> dict[str, Any] | None:
        item = ddb.get_item(self.client, self.name, t.face_pk(face_id), t.FACE_SK, "face", consistent=True)
        return ddb.from_item(item) if item else None

    def _write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            pending: dict[str, Any] = {self.name: requests[start : start + BATCH_WRITE_MAX]}
            try:
                while pending:
                    response = self.client.batch_write_item(RequestItems=pending)
                    pending = dict(response.get("UnprocessedItems") or {})
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, "DynamoDB BatchWriteItem (people)") from exc
