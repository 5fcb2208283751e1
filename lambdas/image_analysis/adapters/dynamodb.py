"""DynamoDB attribute values: the conversions the claims and the content cache share, and `from_item`,
which the CLI uses to read records as plain values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .errors import translate

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def get_item(
    client: Any, table: str, pk: str, sk: str, what: str, *, consistent: bool = False
) -> dict[str, Any] | None:
    """One item as DynamoDB stores it (attribute-value form), or None; failures translated for `what`."""
    try:
        response = client.get_item(TableName=table, Key=key(pk, sk), ConsistentRead=consistent)
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"DynamoDB GetItem ({what})") from exc
    item: dict[str, Any] | None = response.get("Item")
    return item


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> an item; None values are left out (no NULL attributes)."""
    return {k: _serializer.serialize(_decimals(v)) for k, v in values.items() if v is not None}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> ExpressionAttributeValues."""
    return {k: _serializer.serialize(_decimals(v)) for k, v in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _decimals(value: Any) -> Any:
    """DynamoDB numbers are Decimals; floats are converted through their repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value
