"""Existence checks whichever way S3 answers a missing object: 404, or 403 when it does not evaluate
the function's prefix-conditioned ListBucket grant for a GET or HEAD. Stubber checks each request
against S3's own model; the listing (which that grant covers by definition) decides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from image_analysis.adapters.s3 import S3Store
from image_analysis.domain.errors import ConfigurationError, ObjectMissing

BUCKET, KEY = "photos", "images/a.jpg"
LISTING = {"Bucket": BUCKET, "Prefix": KEY, "MaxKeys": 1}


@pytest.fixture
def s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def stub(s3: Any) -> Iterator[Stubber]:
    with Stubber(s3) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def listed(*keys: str) -> dict[str, Any]:
    return {"Contents": [{"Key": k, "Size": 1} for k in keys], "KeyCount": len(keys)}


@pytest.mark.parametrize(("code", "status"), [("NoSuchKey", 404), ("AccessDenied", 403)])
def test_a_read_of_a_deleted_image_is_missing_whether_s3_says_404_or_403(
    s3: Any, stub: Stubber, code: str, status: int
) -> None:
    stub.add_client_error("get_object", code, http_status_code=status)
    if status == 403:  # a 403 is checked against a listing of the key's own prefix
        stub.add_response("list_objects_v2", listed(), LISTING)
    with pytest.raises(ObjectMissing):
        S3Store(s3).read(BUCKET, KEY, max_bytes=1000)


@pytest.mark.parametrize(("code", "status"), [("404", 404), ("403", 403)])
def test_a_head_of_a_deleted_image_is_none_whether_s3_says_404_or_403(
    s3: Any, stub: Stubber, code: str, status: int
) -> None:
    stub.add_client_error("head_object", code, http_status_code=status)
    if status == 403:
        stub.add_response("list_objects_v2", listed("images/a.jpg.bak"), LISTING)  # only a longer key
    assert S3Store(s3).head(BUCKET, KEY) is None


def test_a_403_for_an_image_that_exists_is_a_configuration_error(s3: Any, stub: Stubber) -> None:
    stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
    stub.add_response("list_objects_v2", listed(KEY), LISTING)
    with pytest.raises(ConfigurationError, match="AccessDenied"):
        S3Store(s3).read(BUCKET, KEY, max_bytes=1000)


@pytest.mark.parametrize(("keys", "exists"), [((), False), ((KEY,), True), (("images/a.jpg.json",), False)])
def test_existence_is_the_exact_key_in_a_listing_of_its_own_prefix(
    s3: Any, stub: Stubber, keys: tuple[str, ...], exists: bool
) -> None:
    stub.add_response("list_objects_v2", listed(*keys), LISTING)
    assert S3Store(s3).exists(BUCKET, KEY) is exists
