"""Amazon S3 adapter: read an image (with a size cap), write and delete its results.

Whether a missing object answers 404 or 403 depends on s3:ListBucket, which the function holds only
with an `s3:prefix` condition; S3 does not document whether it evaluates that condition for a GET or
HEAD. So a 403 is never taken at its word: a prefix-scoped ListObjectsV2 (which the condition covers
by definition) decides whether the object is missing or access is really denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.errors import ObjectMissing
from .errors import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}
_DENIED = {"AccessDenied", "403", "Forbidden"}


@dataclass(frozen=True)
class ObjectHead:
    version_id: str | None
    etag: str
    size: int


class S3Store:
    """The pipeline's S3 calls, on one client (buckets come with the events)."""

    def __init__(self, client: S3Client) -> None:
        self.client = client

    def exists(self, bucket: str, key: str) -> bool:
        """Whether `key` exists now, by listing its own prefix (keys that merely start with it sort
        after it)."""
        try:
            response = self.client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "S3 ListObjectsV2") from exc
        contents = response.get("Contents") or []
        return bool(contents) and contents[0].get("Key") == key

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        """The object's current version, or None when it does not exist."""
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if self._missing(bucket, key, exc):
                return None
            raise translate(exc, "S3 HeadObject") from exc
        except BotoCoreError as exc:
            raise translate(exc, "S3 HeadObject") from exc
        return _head(response)

    def read(self, bucket: str, key: str, max_bytes: int) -> tuple[ObjectHead, bytes | None]:
        """The current version and its bytes; None instead of bytes for an object over max_bytes
        (not downloaded)."""
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if self._missing(bucket, key, exc):
                raise ObjectMissing(f"s3://{bucket}/{key} no longer exists") from exc
            raise translate(exc, "S3 GetObject") from exc
        except BotoCoreError as exc:
            raise translate(exc, "S3 GetObject") from exc
        info = _head(response)
        body = response["Body"]
        if info.size > max_bytes:
            body.close()
            return info, None
        try:
            return info, body.read()
        except BotoCoreError as exc:
            raise translate(exc, "S3 GetObject (reading the body)") from exc

    def write_results(self, bucket: str, documents: dict[str, tuple[bytes, str]]) -> dict[str, str | None]:
        """Put each result object ({key: (body, content type)}); returns {key: version id written}."""
        versions: dict[str, str | None] = {}
        for key, (body, content_type) in documents.items():
            try:
                response = self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, "S3 PutObject") from exc
            versions[key] = response.get("VersionId")
        return versions

    def undo_writes(self, bucket: str, versions: dict[str, str | None]) -> None:
        """Delete exactly the object versions we wrote, so the previous version is current again."""
        for key, version_id in versions.items():
            if version_id and version_id != "null":
                try:
                    self.client.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
                except (ClientError, BotoCoreError) as exc:
                    raise translate(exc, "S3 DeleteObject (undo)") from exc

    def delete_results(self, bucket: str, keys: list[str]) -> None:
        try:
            response = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "S3 DeleteObjects") from exc
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise translate(
                ClientError(
                    {"Error": {"Code": first.get("Code", ""), "Message": first.get("Message", "")}},
                    "DeleteObjects",
                ),
                f"S3 DeleteObjects ({first.get('Key')})",
            )

    def _missing(self, bucket: str, key: str, exc: ClientError) -> bool:
        """True when a failed GET/HEAD means the object does not exist: 404, or 403 and a listing
        agrees."""
        code = error_code(exc)
        return code in _MISSING or (code in _DENIED and not self.exists(bucket, key))


def _head(response: Mapping[str, Any]) -> ObjectHead:
    version = response.get("VersionId")
    return ObjectHead(
        version_id=None if version in (None, "null") else str(version),
        etag=str(response.get("ETag", "")).strip('"'),
        size=int(response.get("ContentLength", 0)),
    )
