"""Amazon DynamoDB adapter for the content cache: an analysis kept under the hash of the image's bytes
and the settings fingerprint, so identical bytes uploaded under another key reuse it (items expire by
TTL). Same table as the claims (claims.py), other items: see domain/table.py."""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain import table as t
from ..domain.models import CachedAnalysis, analyses_from_dict, analyses_to_dict
from . import dynamodb as ddb
from .errors import translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ContentCache:
    """Earlier analyses by content: a DynamoDB client bound to the results table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.name = table_name

    def lookup(self, sha256: str, fingerprint: str) -> CachedAnalysis | None:
        """An earlier analysis of identical bytes under the same settings, or None."""
        item = ddb.get_item(self.client, self.name, t.content_pk(sha256, fingerprint), t.CACHE_SK, "cache")
        if not item:
            return None
        payload = json.loads(zlib.decompress(item["analyses"]["B"]))
        return CachedAnalysis(
            analyses=analyses_from_dict(payload["analyses"]),
            format=payload["format"],
            width=payload["width"],
            height=payload["height"],
            source_key=item["source_key"]["S"],
            phash=payload.get("phash"),
        )

    def store(self, sha256: str, fingerprint: str, cached: CachedAnalysis, expires_at: int) -> None:
        payload = {
            "analyses": analyses_to_dict(cached.analyses),
            "format": cached.format,
            "width": cached.width,
            "height": cached.height,
            "phash": cached.phash,
        }
        item: dict[str, Any] = {
            "pk": {"S": t.content_pk(sha256, fingerprint)},
            "sk": {"S": t.CACHE_SK},
            "source_key": {"S": cached.source_key},
            "analyses": {"B": zlib.compress(json.dumps(payload).encode())},
            t.TTL_ATTRIBUTE: {"N": str(expires_at)},
        }
        try:
            self.client.put_item(TableName=self.name, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "DynamoDB PutItem (cache)") from exc
