"""DynamoDB table design, shared by the Lambda, the CDK stack, the CLI and the tests.

One table, items keyed for the analysts' access patterns (each a Query, never a Scan):

| access pattern                     | how                                                        |
|------------------------------------|------------------------------------------------------------|
| result of one image                | GetItem  pk=IMAGE#<key>, sk=RESULT                          |
| all items of one image (removal)   | Query    pk=IMAGE#<key>                                     |
| images with label L, by confidence | Query    index by-label, gsi1pk=LABEL#<l> (l lower-cased)   |
| images by status, newest first     | Query    index by-status, gsi2pk=STATUS#<s>, gsi2sk=<time>  |
| images by status in a date range   | same, gsi2sk BETWEEN <from> AND <to>                        |
| flagged images, newest first       | Query    index flagged, gsi3pk=FLAGGED (sparse)             |
| images showing PII, newest first   | Query    index pii, gsi4pk=PII (sparse)                     |
| GPS and model disagree, newest first| Query  index location-conflict, gsi5pk=CONFLICT (sparse)  |
| earlier analysis of identical bytes| GetItem  pk=CONTENT#<sha256>#<settings fingerprint>, sk=CACHE |
| the image (and name) of a face     | GetItem  pk=FACE#<face id>, sk=FACE (people, when switched on) |
| the faces named after a person     | Query    pk=PERSON#<name, lower-cased>                      |

Label items (sk=LABEL#<l>) are written with the result in one transaction, so a label query never
sees a half-written image. Cache items expire through TTL (`expires_at`). A record's statuses are
states.ImageStatus. The adapters that read and write these items: adapters/claims.py (records, label
items, claims and removal locks) and adapters/content_cache.py (cache items).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str


BY_LABEL = Index("by-label", "gsi1pk", "gsi1sk")
BY_STATUS = Index("by-status", "gsi2pk", "gsi2sk")
FLAGGED = Index("flagged", "gsi3pk", "gsi3sk")
PII = Index("pii", "gsi4pk", "gsi4sk")  # images whose text shows personal information (types only)
# images whose GPS place and the model's city or country disagree (domain/places.py): a review queue
LOCATION_CONFLICT = Index("location-conflict", "gsi5pk", "gsi5sk")
INDEXES = (BY_LABEL, BY_STATUS, FLAGGED, PII, LOCATION_CONFLICT)


def create_table_request(name: str) -> dict[str, Any]:
    """CreateTable's parameters for this design, on demand: for emulators (tests, benchmarks). The stack
    builds its table from the same constants in infra/storage.py."""
    attributes = {PK, SK} | {a for index in INDEXES for a in (index.partition_key, index.sort_key)}
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in INDEXES
        ],
    }


MAX_SORT_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value (UTF-8), index sort keys included

RESULT_SK = "RESULT"
CACHE_SK = "CACHE"
FLAGGED_PK = "FLAGGED"
PII_PK = "PII"
LOCATION_CONFLICT_PK = "CONFLICT"


def image_pk(image_key: str) -> str:
    return f"IMAGE#{image_key}"


def label_sk(label: str) -> str:
    return f"LABEL#{normalise_label(label)}"


def label_pk(label: str) -> str:
    return f"LABEL#{normalise_label(label)}"


def status_pk(status: str) -> str:
    return f"STATUS#{status}"


def content_pk(sha256: str, fingerprint: str) -> str:
    return f"CONTENT#{sha256}#{fingerprint}"


FACE_SK = "FACE"


def face_pk(face_id: str) -> str:
    return f"FACE#{face_id}"


def person_pk(name: str) -> str:
    return f"PERSON#{normalise_label(name)}"


def person_sk(face_id: str) -> str:
    return f"FACE#{face_id}"


def normalise_label(label: str) -> str:
    return " ".join(label.split()).lower()


def label_sort_key(confidence: float, image_key: str) -> str:
    """Sorts by confidence descending when the index is read backwards (ScanIndexForward=False)."""
    return _within_sort_key_limit(f"{confidence:06.2f}#{image_key}")


def time_sort_key(iso_time: str, image_key: str) -> str:
    return _within_sort_key_limit(f"{iso_time}#{image_key}")


def _within_sort_key_limit(value: str) -> str:
    """Cut to DynamoDB's sort-key limit, which index sort keys share: an S3 key may be 1,024 bytes
    itself, and a longer index key fails the whole write. The key part only breaks ties, so a cut one
    still sorts by the time or confidence in front; a character is never split."""
    encoded = value.encode("utf-8")
    if len(encoded) <= MAX_SORT_KEY_BYTES:
        return value
    return encoded[:MAX_SORT_KEY_BYTES].decode("utf-8", errors="ignore")
