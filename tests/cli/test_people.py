"""`imgpipe people` and the new `imgpipe query` criteria round trip through the real CLI (separate
processes) on the local emulated stack with the people analysis on; the AI double keeps the face
collection and reads a receipt on yellow pictures and a French sign on purple ones
(imgpipe/simulated/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.cli.helpers import as_json, cli_env, imgpipe, new_state_dir, ok
from tests.imagegen import SKIN_DARK, jpeg, portrait

pytestmark = pytest.mark.slow  # an upload through the CLI: minutes

PICTURES = {
    "alice-1.jpg": portrait([(0.2, 0.2, 0.24, 0.4)]),
    "holiday/alice-2.jpg": portrait([(0.5, 0.1, 0.3, 0.5)], size=(1024, 768), smiling=False),
    "friends.jpg": portrait([(0.05, 0.2, 0.24, 0.4), (0.6, 0.2, 0.24, 0.4)], tone=SKIN_DARK),
    "receipt.jpg": jpeg((640, 480), (240, 230, 30)),
    "gare.jpg": jpeg((640, 480), (130, 30, 160)),
}


def keys(records: list[dict[str, object]]) -> set[str]:
    return {str(r["image_key"]) for r in records}


def test_people_name_find_like_and_forget_round_trip(
    tmp_path: Path, synthesized: Path, ai_double: AiServicesDouble
) -> None:
    ai_double.reset()
    photos = tmp_path / "photos"
    for relative, data in PICTURES.items():
        (photos / relative).parent.mkdir(parents=True, exist_ok=True)
        (photos / relative).write_bytes(data)
    state = new_state_dir(synthesized, tmp_path / "state")
    env = cli_env(ai_double)
    where = ("--state-dir", str(state))
    done = ok(imgpipe("upload", photos, *where, "--aws-ai", "--context", "enable_people=true", env=env))
    assert "5 complete" in done.stdout
    (collection,) = ai_double.collections.collections  # the local run created the template's collection
    assert len(ai_double.collections.faces_in(collection)) == 4  # no faces on the receipt or the sign

    faces = as_json(imgpipe("people", "faces", "alice-1.jpg", *where, "--json", env=env))
    assert [f["person"] for f in faces] == [None]
    face_id = faces[0]["face_id"]
    named = as_json(imgpipe("people", "name", face_id, "Alice", *where, "--json", env=env))
    assert named == [
        {"image_key": "images/alice-1.jpg", "face_id": face_id, "person": "Alice", "similarity": None}
    ]

    def query(*criteria: str) -> set[str]:
        return keys(as_json(imgpipe("query", *criteria, *where, "--json", env=env)))

    assert query("--person", "Alice") == {"images/alice-1.jpg", "images/holiday/alice-2.jpg"}
    assert query("--faces", "2") == {"images/friends.jpg"}
    assert query("--faces", "1") == {"images/alice-1.jpg", "images/holiday/alice-2.jpg", "images/friends.jpg"}
    assert query("--pii") == {"images/receipt.jpg"}
    assert query("--language", "fr") == {"images/gare.jpg"}
    assert query("--pii", "--language", "fr") == set()
    table = ok(imgpipe("query", "--pii", *where, env=env)).stdout
    assert "receipt.jpg" in table and "PII" in table and "4111" not in table

    found = as_json(imgpipe("people", "find", "alice", *where, "--json", env=env))  # names ignore case
    assert {f["image_key"] for f in found} == {"images/alice-1.jpg", "images/holiday/alice-2.jpg"}
    assert found[0]["person"] == "Alice" and found[1]["similarity"] >= 90
    like = photos / "alice-1.jpg"
    alike = as_json(imgpipe("people", "find", "--like", like, *where, "--json", env=env))
    assert {f["image_key"] for f in alike} == {"images/alice-1.jpg", "images/holiday/alice-2.jpg"}
    found_table = ok(imgpipe("people", "find", "Alice", *where, env=env)).stdout
    assert "holiday/alice-2.jpg" in found_table and "friends.jpg" not in found_table

    forgot = as_json(imgpipe("people", "forget", "Alice", *where, "--json", env=env))
    assert len(forgot["faces_deleted"]) == 2
    assert len(ai_double.collections.faces_in(collection)) == 2  # the friends' faces stay
    assert as_json(imgpipe("people", "find", "Alice", *where, "--json", env=env)) == []
    assert query("--person", "Alice") == set()
    gone = ok(imgpipe("people", "find", "--like", like, *where, env=env)).stdout
    assert "No image shows" in gone

    unknown = imgpipe("people", "name", "00000000-0000-4000-8000-000000000000", "Bob", *where, env=env)
    assert unknown.returncode == 2 and "No image has the face" in unknown.stderr
