"""Intake: SQS bodies carrying S3 notifications (and backfill messages) -> the events the pipeline acts on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from image_analysis.domain.intake import (
    BACKFILL_EVENT,
    CREATED,
    REMOVED,
    MalformedMessage,
    S3Event,
    parse_body,
)

BUCKET = "photos-bucket"


def record(
    key: str,
    event_name: str = "ObjectCreated:Put",
    *,
    bucket: str = BUCKET,
    **object_fields: Any,
) -> dict[str, Any]:
    """One S3 event record as S3 writes it (the key URL-encoded by the caller, as S3 does)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-03-01T12:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "images",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key, **object_fields},
        },
    }


def body(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def only(events: list[S3Event]) -> S3Event:
    assert len(events) == 1, events
    return events[0]


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("images/summer+trip/beach.jpg", "images/summer trip/beach.jpg"),
        ("images/a%2Bb.jpg", "images/a+b.jpg"),
        ("images/100%25.jpg", "images/100%.jpg"),
        ("images/caf%C3%A9/%E6%9D%B1%E4%BA%AC.jpg", "images/café/東京.jpg"),
        ("images/a%2B+b%25+c.jpg", "images/a+ b% c.jpg"),
        ("images/plain.jpg", "images/plain.jpg"),
    ],
    ids=["plus-is-space", "encoded-plus", "encoded-percent", "utf-8", "mixed", "plain"],
)
def test_keys_are_url_decoded_like_s3_encodes_them(encoded: str, key: str) -> None:
    assert only(parse_body(body(record(encoded)))).key == key


def test_a_created_record_gives_bucket_key_version_etag_and_size() -> None:
    event = only(
        parse_body(
            body(record("images/a.jpg", versionId="3HL4kqtJvjVBH40Nrjfkd", eTag='"d41d8cd98f00"', size=1234))
        )
    )
    assert event == S3Event(
        kind=CREATED,
        bucket=BUCKET,
        key="images/a.jpg",
        version_id="3HL4kqtJvjVBH40Nrjfkd",
        etag="d41d8cd98f00",
        size=1234,
        force=False,
    )


def test_an_etag_without_quotes_and_a_missing_version_are_handled() -> None:
    event = only(parse_body(body(record("images/a.jpg", eTag="abc123", size=1))))
    assert event.etag == "abc123" and event.version_id is None


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
    ],
)
def test_every_kind_of_creation_is_created(event_name: str) -> None:
    assert only(parse_body(body(record("images/a.jpg", event_name)))).kind == CREATED


@pytest.mark.parametrize("event_name", ["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"])
def test_deletions_and_delete_markers_are_removed(event_name: str) -> None:
    event = only(parse_body(body(record("images/old+photo.jpg", event_name, versionId="v1"))))
    assert (event.kind, event.key, event.version_id) == (REMOVED, "images/old photo.jpg", "v1")


@pytest.mark.parametrize(
    ("event_name", "fields", "deleted_for_good"),
    [
        ("ObjectRemoved:Delete", {"versionId": "v1"}, True),  # a version (or a delete marker) deleted
        ("ObjectRemoved:DeleteMarkerCreated", {"versionId": "m1"}, False),  # a plain DELETE, versioned
        ("ObjectRemoved:Delete", {}, False),  # a plain DELETE in an unversioned bucket
    ],
)
def test_only_deleting_a_version_for_good_can_make_an_older_one_current(
    event_name: str, fields: dict[str, str], deleted_for_good: bool
) -> None:
    event = only(parse_body(body(record("images/a.jpg", event_name, **fields))))
    assert event.version_deleted is deleted_for_good


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRestore:Completed",
        "ObjectRestore:Post",
        "LifecycleTransition",
        "Replication:OperationFailedReplication",
        "ObjectTagging:Put",
    ],
)
def test_other_event_names_are_ignored(event_name: str) -> None:
    assert parse_body(body(record("images/a.jpg", event_name))) == []


def test_the_test_event_s3_sends_on_configuration_is_ignored() -> None:
    message = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-03-01T12:00:00.000Z",
        "Bucket": BUCKET,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    assert parse_body(json.dumps(message)) == []


def test_several_records_in_one_body_keep_their_order_and_skip_ignored_ones() -> None:
    events = parse_body(
        body(
            record("images/1.jpg"),
            record("images/2.jpg", "ObjectRestore:Completed"),
            record("images/3.jpg", "ObjectRemoved:Delete"),
            record("images/4.jpg", bucket="other-bucket"),
        )
    )
    assert [(e.kind, e.bucket, e.key) for e in events] == [
        (CREATED, BUCKET, "images/1.jpg"),
        (REMOVED, BUCKET, "images/3.jpg"),
        (CREATED, "other-bucket", "images/4.jpg"),
    ]


def test_an_empty_records_list_is_nothing_to_do() -> None:
    assert parse_body(body()) == []


@pytest.mark.parametrize(("flag", "force"), [(True, True), (False, False), (None, False)])
def test_backfill_messages_are_created_events_carrying_force(flag: bool | None, force: bool) -> None:
    backfill = record("images/summer+trip/a.jpg", BACKFILL_EVENT, versionId="v7", size=10)
    if flag is not None:
        backfill["imgpipe"] = {"force": flag}
    event = only(parse_body(body(backfill)))
    assert (event.kind, event.key, event.version_id, event.force) == (
        CREATED,
        "images/summer trip/a.jpg",
        "v7",
        force,
    )


def test_force_on_a_normal_s3_record_is_ignored() -> None:
    # Only backfill can ask for reprocessing; anything else that writes to the queue cannot.
    forged = record("images/a.jpg") | {"imgpipe": {"force": True}}
    assert only(parse_body(body(forged))).force is False


@pytest.mark.parametrize(
    "message",
    [
        "not json at all",
        "",
        "[]",
        '"a string"',
        "42",
        "null",
        json.dumps({"Message": "from SNS, not S3"}),
        json.dumps({"Records": "not a list"}),
        json.dumps({"Records": ["not a record"]}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}),
        json.dumps(
            {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}]}
        ),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "images/a"}}}]}),
        json.dumps({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "images/a"}}}]}),
    ],
    ids=[
        "not-json",
        "empty",
        "a-list",
        "a-string",
        "a-number",
        "null",
        "no-records",
        "records-not-a-list",
        "record-not-an-object",
        "no-s3",
        "no-object",
        "no-key",
        "no-bucket",
        "no-event-name",
    ],
)
def test_malformed_bodies_raise_malformed_message(message: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_body(message)


def test_one_malformed_record_fails_the_whole_body() -> None:
    # The message goes to the DLQ whole; a person looks at it rather than half of it being applied.
    with pytest.raises(MalformedMessage, match="key"):
        parse_body(
            body(record("images/good.jpg"), record("x") | {"s3": {"bucket": {"name": BUCKET}, "object": {}}})
        )


@pytest.mark.parametrize("imgpipe", [None, "force", ["force"]], ids=["null", "string", "list"])
def test_a_backfill_record_with_a_malformed_imgpipe_field_is_malformed(imgpipe: Any) -> None:
    backfill = record("images/a.jpg", BACKFILL_EVENT) | {"imgpipe": imgpipe}
    with pytest.raises(MalformedMessage):
        parse_body(body(backfill))
