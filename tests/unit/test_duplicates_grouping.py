"""`imgpipe duplicates` grouping (imgpipe/commands/duplicates.py `find`) on records as the table holds
them: identical bytes and near-duplicates reported apart, burst shots and hashless records left out."""

from __future__ import annotations

import pytest

pytest.importorskip("rich", reason="needs rich, a CLI requirement, not the Lambda's")

from image_analysis.domain import likeness
from image_analysis.imaging.prepare import prepare
from PIL import Image

from imgpipe.commands.duplicates import find
from tests.imagegen import encode, photo
from tests.unit.test_near_duplicates import LIMITS

LIMIT = likeness.DEFAULT_MAX_DISTANCE


def record(key: str, sha: str, phash: str | None, status: str = "complete") -> dict[str, object]:
    return {"image_key": key, "status": status, "sha256": sha, "phash": phash, "width": 800, "height": 600}


def test_find_reports_identical_bytes_and_near_duplicates_apart() -> None:
    image = photo(2)
    original = prepare(encode(image, "JPEG", quality=92), LIMITS).phash
    small = prepare(encode(image.resize((200, 150)), "PNG"), LIMITS).phash
    turned = prepare(encode(image.transpose(Image.Transpose.ROTATE_270), "WEBP"), LIMITS).phash
    burst = prepare(encode(photo(2, shift=(0.03, 0.0)), "JPEG"), LIMITS).phash
    records = [
        record("images/a.jpg", "s1", original),
        record("images/a copy.jpg", "s1", original),  # the same bytes
        record("images/b.png", "s2", small),
        record("images/c.webp", "s3", turned),
        record("images/burst.jpg", "s4", burst),
        record("images/old.jpg", "s5", None),  # analysed before the hash existed
        record("images/broken.jpg", "s6", None, status="failed"),
        record("images/broken again.jpg", "s6", None, status="failed"),
        record("images/x.jpg", "s7", original),  # same bytes only as itself
        record("images/y.jpg", "s7", original),
    ]
    findings = find(records, LIMIT)
    assert [[m.key for m in g.members] for g in findings.identical] == [
        ["images/a copy.jpg", "images/a.jpg"],
        ["images/broken again.jpg", "images/broken.jpg"],
        ["images/x.jpg", "images/y.jpg"],
    ]
    (near,) = findings.near
    assert {m.key for m in near.members} == {
        "images/a copy.jpg",
        "images/a.jpg",
        "images/b.png",
        "images/c.webp",
        "images/x.jpg",
        "images/y.jpg",
    }
    assert near.members[0].distance == 0 and all(m.distance <= LIMIT for m in near.members)
    assert findings.without_hash == 1 and findings.images == len(records)
    exact = find(records, 0).near  # only equal hashes remain, across different bytes
    assert {"images/a.jpg", "images/x.jpg"} <= {m.key for m in exact[0].members}
    assert all(m.distance == 0 for g in exact for m in g.members)
    assert "images/burst.jpg" not in {m.key for g in exact for m in g.members}
