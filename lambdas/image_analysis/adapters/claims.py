"""Amazon DynamoDB adapter for an image's own items: the claim that makes each object version analysed
once, the record and its label items, and the removal lock. Item layout is defined in domain/table.py,
record fields in domain/records.py; the content cache (same table, other items) is content_cache.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..domain import table as t
from ..domain.errors import TransientError
from ..domain.states import ImageStatus
from . import dynamodb as ddb
from .errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# No removal holds the key now (a lock whose lease ran out belongs to a dead invocation).
_NO_LIVE_REMOVAL = "attribute_not_exists(removal_expires) OR removal_expires < :now"
_LIVE_CLAIM = "#s = :processing AND lease_expires >= :now"
_Response = TypeVar("_Response")


@dataclass(frozen=True)
class Claim:
    """This invocation owns the image until it finishes or the lease expires.

    `previous` is the item the claim replaced (None when there was none), so a claim that turns out to
    be for a superseded version can put back exactly what it displaced (see `restore`).
    """

    image_key: str
    token: str
    previous: dict[str, Any] | None = None


@dataclass(frozen=True)
class RemovalLock:
    """This invocation is removing the image: no analysis may claim it until the lock is released."""

    image_key: str
    token: str


@dataclass(frozen=True)
class Busy:
    """Someone else has the image: `existing` is its current record."""

    existing: dict[str, Any]


class Claims:
    """Who works on an image key, and its record: a DynamoDB client bound to the results table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.name = table_name

    # --- claims -----------------------------------------------------------------------------
    def claim(
        self,
        image_key: str,
        version_tag: str,
        token: str,
        now_iso: str,
        now_s: int,
        lease_s: int,
        force: bool,
    ) -> Claim | Busy:
        """Conditionally mark the image as processing by us.

        Claimable when there is no record, the record is for another object version, an earlier
        attempt released it, or a claim's lease ran out (its invocation died); with `force`, also
        when it is finished (reprocessing after a model or threshold change).
        """
        claimable = (
            "attribute_not_exists(version_tag) OR version_tag <> :v OR #s = :retrying"
            " OR (#s = :processing AND lease_expires < :now)"
        )
        values: dict[str, Any] = {
            ":v": version_tag,
            ":retrying": ImageStatus.RETRYING,
            ":processing": ImageStatus.PROCESSING,
            ":now": now_s,
            ":exp": now_s + lease_s,
            ":tok": token,
            ":at": now_iso,
            ":key": image_key,
            ":gsi2pk": t.status_pk(ImageStatus.PROCESSING),
            ":gsi2sk": t.time_sort_key(now_iso, image_key),
            ":zero": 0,
            ":one": 1,
        }
        if force:
            claimable += " OR #s IN (:complete, :partial, :failed)"
            values.update(
                {
                    ":complete": ImageStatus.COMPLETE,
                    ":partial": ImageStatus.PARTIAL,
                    ":failed": ImageStatus.FAILED,
                }
            )
        response = _conditional(
            "DynamoDB UpdateItem (claim)",
            lambda: self.client.update_item(
                TableName=self.name,
                Key=ddb.key(t.image_pk(image_key), t.RESULT_SK),
                UpdateExpression=(
                    "SET #s = :processing, version_tag = :v, claim_token = :tok, lease_expires = :exp,"
                    " updated_at = :at, image_key = :key, gsi2pk = :gsi2pk, gsi2sk = :gsi2sk,"
                    " attempts = if_not_exists(attempts, :zero) + :one"
                    " REMOVE removal_token, removal_expires"
                ),
                # A removal in progress holds the key: its lock must lapse or be released first.
                ConditionExpression=f"({_NO_LIVE_REMOVAL}) AND ({claimable})",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=ddb.to_values(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        )
        if isinstance(response, Busy):
            return response
        previous = response.get("Attributes")
        return Claim(image_key=image_key, token=token, previous=dict(previous) if previous else None)

    def restore(self, claim: Claim) -> None:
        """Undo a claim made for a version that turned out not to be current: put back what it replaced
        (a newer version's record or claim), or delete the claim if it replaced nothing."""
        key = ddb.key(t.image_pk(claim.image_key), t.RESULT_SK)
        condition, values = "claim_token = :tok", ddb.to_values({":tok": claim.token})
        previous = claim.previous
        # Busy (taken over since): theirs now, nothing to put back.
        if previous:
            _conditional(
                "DynamoDB PutItem (restore after a superseded claim)",
                lambda: self.client.put_item(
                    TableName=self.name,
                    Item=previous,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                ),
            )
        else:
            _conditional(
                "DynamoDB DeleteItem (restore after a superseded claim)",
                lambda: self.client.delete_item(
                    TableName=self.name,
                    Key=key,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                ),
            )

    def release(self, claim: Claim, now_iso: str, reason: str) -> None:
        """Give the image back after a transient failure so the redelivery can claim it (Busy: superseded,
        nothing to release)."""
        _conditional(
            "DynamoDB UpdateItem (release)",
            lambda: self.client.update_item(
                TableName=self.name,
                Key=ddb.key(t.image_pk(claim.image_key), t.RESULT_SK),
                UpdateExpression="SET #s = :r, last_error = :e, updated_at = :at, gsi2pk = :pk, gsi2sk = :sk",
                ConditionExpression="claim_token = :tok",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":r": ImageStatus.RETRYING,
                        ":e": reason[:1000],
                        ":at": now_iso,
                        ":tok": claim.token,
                        ":pk": t.status_pk(ImageStatus.RETRYING),
                        ":sk": t.time_sort_key(now_iso, claim.image_key),
                    }
                ),
            ),
        )

    # --- records ----------------------------------------------------------------------------
    def finish(self, claim: Claim, record: dict[str, Any], labels: dict[str, float]) -> bool:
        """Write the final record and its label items in one transaction.

        Returns False when the claim was lost (a newer object version took over): the caller's
        result is stale and is dropped.
        """
        image_pk = t.image_pk(claim.image_key)
        stale_label_sks = {sk for sk in self._sort_keys(image_pk) if sk.startswith("LABEL#")}
        actions: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": ddb.to_item({**record, "pk": image_pk, "sk": t.RESULT_SK}),
                    "ConditionExpression": "claim_token = :tok",
                    "ExpressionAttributeValues": ddb.to_values({":tok": claim.token}),
                }
            }
        ]
        for label, confidence in labels.items():
            sk = t.label_sk(label)
            stale_label_sks.discard(sk)
            actions.append(
                {
                    "Put": {
                        "TableName": self.name,
                        "Item": ddb.to_item(
                            _label_item(image_pk, sk, claim.image_key, label, confidence, record)
                        ),
                    }
                }
            )
        actions += [
            {"Delete": {"TableName": self.name, "Key": ddb.key(image_pk, sk)}} for sk in stale_label_sks
        ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if error_code(exc) == "TransactionCanceledException" and reasons[:1] == [
                "ConditionalCheckFailed"
            ]:
                return False
            raise translate(exc, "DynamoDB TransactWriteItems (finish)") from exc
        except BotoCoreError as exc:
            raise translate(exc, "DynamoDB TransactWriteItems (finish)") from exc
        return True

    def get(self, image_key: str) -> dict[str, Any] | None:
        item = ddb.get_item(
            self.client, self.name, t.image_pk(image_key), t.RESULT_SK, "record", consistent=True
        )
        return ddb.from_item(item) if item else None

    # --- removal ----------------------------------------------------------------------------
    def lock_for_removal(self, image_key: str, token: str, now_s: int, lease_s: int) -> RemovalLock | Busy:
        """Take the key for a removal, unless an analysis (or another removal) holds it now.

        While the lock is held no analysis can claim the key, so the removal cannot delete a newer
        upload's claim, record or results. With no record yet, the lock is an item of its own.
        """
        response = _conditional(
            "DynamoDB UpdateItem (removal lock)",
            lambda: self.client.update_item(
                TableName=self.name,
                Key=ddb.key(t.image_pk(image_key), t.RESULT_SK),
                UpdateExpression="SET removal_token = :tok, removal_expires = :exp",
                ConditionExpression=f"({_NO_LIVE_REMOVAL}) AND NOT ({_LIVE_CLAIM})",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=ddb.to_values(
                    {
                        ":tok": token,
                        ":exp": now_s + lease_s,
                        ":now": now_s,
                        ":processing": ImageStatus.PROCESSING,
                    }
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
        )
        return response if isinstance(response, Busy) else RemovalLock(image_key=image_key, token=token)

    def unlock_removal(self, lock: RemovalLock) -> None:
        """Give the key back without removing anything (the image exists again)."""
        key = ddb.key(t.image_pk(lock.image_key), t.RESULT_SK)
        response = _conditional(
            "DynamoDB UpdateItem (removal unlock)",
            lambda: self.client.update_item(
                TableName=self.name,
                Key=key,
                UpdateExpression="REMOVE removal_token, removal_expires",
                ConditionExpression="removal_token = :tok",
                ExpressionAttributeValues=ddb.to_values({":tok": lock.token}),
                ReturnValues="ALL_NEW",
            ),
        )
        if isinstance(response, Busy) or "status" in response.get("Attributes", {}):
            return  # lapsed and taken (nothing to give back), or a record stays without the lock
        _conditional(  # the lock was the whole item
            "DynamoDB DeleteItem (removal unlock)",
            lambda: self.client.delete_item(
                TableName=self.name,
                Key=key,
                ConditionExpression="attribute_not_exists(#s) AND attribute_not_exists(removal_token)",
                ExpressionAttributeNames={"#s": "status"},
            ),
        )

    def delete_image(self, lock: RemovalLock) -> int:
        """Delete the label items, then the record (and the lock with it); returns how many items went.

        The record goes last and only while our lock holds, so a crash in between leaves a record
        that the redelivered removal deletes.
        """
        image_pk = t.image_pk(lock.image_key)
        others = [sk for sk in self._sort_keys(image_pk) if sk != t.RESULT_SK]
        for start in range(0, len(others), 25):
            batch = others[start : start + 25]
            request: dict[str, Any] = {
                self.name: [{"DeleteRequest": {"Key": ddb.key(image_pk, sk)}} for sk in batch]
            }
            try:
                while request:
                    response = self.client.batch_write_item(RequestItems=request)
                    request = response.get("UnprocessedItems") or {}
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, "DynamoDB BatchWriteItem (delete)") from exc
        deleted = _conditional(
            "DynamoDB DeleteItem (record)",
            lambda: self.client.delete_item(
                TableName=self.name,
                Key=ddb.key(image_pk, t.RESULT_SK),
                ConditionExpression="removal_token = :tok",
                ExpressionAttributeValues=ddb.to_values({":tok": lock.token}),
            ),
        )
        if isinstance(deleted, Busy):
            raise TransientError(f"{lock.image_key}: the removal lock lapsed; retrying the removal")
        return len(others) + 1

    def _sort_keys(self, pk: str) -> list[str]:
        keys: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        try:
            while True:
                response = self.client.query(**kwargs)
                keys += [item["sk"]["S"] for item in response.get("Items", [])]
                if "LastEvaluatedKey" not in response:
                    return keys
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "DynamoDB Query") from exc


def _conditional(what: str, write: Callable[[], _Response]) -> _Response | Busy:
    """A conditional write's response, or Busy (with the item as it was, when the write asked for it)
    if its condition did not hold; any other failure is translated."""
    try:
        return write()
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return Busy(existing=ddb.from_item(dict(exc.response.get("Item", {}))))  # type: ignore[call-overload]
        raise translate(exc, what) from exc
    except BotoCoreError as exc:
        raise translate(exc, what) from exc


def _label_item(
    image_pk: str, sk: str, image_key: str, label: str, confidence: float, record: dict[str, Any]
) -> dict[str, Any]:
    return {
        "pk": image_pk,
        "sk": sk,
        t.BY_LABEL.partition_key: t.label_pk(label),
        t.BY_LABEL.sort_key: t.label_sort_key(confidence, image_key),
        "image_key": image_key,
        "label": label,
        "confidence": confidence,
        "status": record["status"],
        "flagged": record.get("flagged", False),
        "updated_at": record["updated_at"],
    }
