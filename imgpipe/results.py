"""Reading analysis records through the table's keys and indexes (image_analysis.domain.table): no Scan."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from image_analysis.adapters.dynamodb import from_item
from image_analysis.domain import table as t
from image_analysis.domain.states import ALL_STATUSES

from .target import Target

# Attributes that serve the table's keys and claims, not the analysts (left out of --json output).
INTERNAL = frozenset(
    {t.PK, t.SK, "claim_token", "lease_expires"}
    | {a for i in t.INDEXES for a in (i.partition_key, i.sort_key)}
)
BATCH_GET_MAX = 100


@dataclass(frozen=True)
class TimeRange:
    """Bounds on a record's updated_at (the time sort key of the by-status and flagged indexes).

    Bounds are ISO prefixes: `until` covers everything at its precision ("2026-05-01" is the whole day).
    """

    since: str | None = None
    until: str | None = None

    @property
    def upper(self) -> str | None:
        return None if self.until is None else self.until + "~"  # '~' sorts after digits, 'T', '.', 'Z', '#'

    def contains(self, iso_time: str | None) -> bool:
        if iso_time is None:
            return self.since is None and self.until is None
        upper = self.upper
        return (self.since is None or iso_time >= self.since) and (upper is None or iso_time <= upper)


def clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(record.items()) if k not in INTERNAL}


def get_record(target: Target, image_key: str) -> dict[str, Any] | None:
    response = target.dynamodb.get_item(
        TableName=target.table, Key=_key(t.image_pk(image_key), t.RESULT_SK), ConsistentRead=True
    )
    return from_item(response["Item"]) if "Item" in response else None


def has_label(target: Target, image_key: str, label: str) -> bool:
    response = target.dynamodb.get_item(
        TableName=target.table, Key=_key(t.image_pk(image_key), t.label_sk(label)), ProjectionExpression="pk"
    )
    return "Item" in response


def get_records(
    target: Target, image_keys: Iterable[str], attributes: tuple[str, ...] | None = None
) -> dict[str, dict[str, Any]]:
    """Records by image key (BatchGetItem, 100 keys a request); keys without a record are absent."""
    keys = list(dict.fromkeys(image_keys))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {
            "Keys": [_key(t.image_pk(k), t.RESULT_SK) for k in keys[start : start + BATCH_GET_MAX]]
        }
        if attributes:
            names = {f"#a{n}": name for n, name in enumerate(("image_key", *attributes))}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {target.table: request}
        while pending:
            response = target.dynamodb.batch_get_item(RequestItems=pending)
            for item in response["Responses"].get(target.table, []):
                record = from_item(item)
                found[record["image_key"]] = record
            pending = response.get("UnprocessedKeys") or {}
    return found


def query_index(
    target: Target,
    index: t.Index,
    partition: str,
    *,
    times: TimeRange | None = None,
    text: str | None = None,
    newest_first: bool = True,
    attributes: tuple[str, ...] | None = None,
) -> Iterator[dict[str, Any]]:
    """Items of one index partition, page by page (time-sorted indexes can be bounded by `times`;
    `text` keeps records whose lower-cased text contains it: a filter on what the Query reads)."""
    names = {"#pk": index.partition_key}
    values: dict[str, Any] = {":pk": {"S": partition}}
    condition = "#pk = :pk"
    if times and (times.since or times.until):
        names["#sk"] = index.sort_key
        if times.since and times.upper:
            condition += " AND #sk BETWEEN :lo AND :hi"
            values.update({":lo": {"S": times.since}, ":hi": {"S": times.upper}})
        elif times.since:
            condition += " AND #sk >= :lo"
            values[":lo"] = {"S": times.since}
        else:
            condition += " AND #sk <= :hi"
            values[":hi"] = {"S": str(times.upper)}
    request: dict[str, Any] = {
        "TableName": target.table,
        "IndexName": index.name,
        "KeyConditionExpression": condition,
        "ScanIndexForward": not newest_first,
    }
    if text:
        names["#text"] = "text_lc"
        values[":text"] = {"S": text.lower()}
        request["FilterExpression"] = "contains(#text, :text)"
    if attributes:
        projected = {f"#a{n}": name for n, name in enumerate(attributes)}
        names.update(projected)
        request["ProjectionExpression"] = ", ".join(projected)
    request.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    for page in target.dynamodb.get_paginator("query").paginate(**request):
        for item in page["Items"]:
            yield from_item(item)


def count_index(target: Target, index: t.Index, partition: str) -> int:
    """How many items one index partition holds (Select=COUNT: nothing is returned but the count)."""
    pages = target.dynamodb.get_paginator("query").paginate(
        TableName=target.table,
        IndexName=index.name,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": index.partition_key},
        ExpressionAttributeValues={":pk": {"S": partition}},
        Select="COUNT",
    )
    return sum(int(page["Count"]) for page in pages)


def has_records(target: Target) -> bool:
    """Whether the table holds any image record (one short Query per status)."""
    for status in ALL_STATUSES:
        response = target.dynamodb.query(
            TableName=target.table,
            IndexName=t.BY_STATUS.name,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": t.BY_STATUS.partition_key},
            ExpressionAttributeValues={":pk": {"S": t.status_pk(status)}},
            Limit=1,
            Select="COUNT",
        )
        if response["Count"]:
            return True
    return False


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {t.PK: {"S": pk}, t.SK: {"S": sk}}
