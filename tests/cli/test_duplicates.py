"""Issue 11, part 4, through the real CLI: photos uploaded to the local emulated stack (the real Lambda
code hashes them), then `imgpipe duplicates` lists the same photo re-encoded, resized, converted and
rotated as one group, identical files as another, and leaves burst shots and other scenes out."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.cli.helpers import as_json, cli_env, imgpipe, new_state_dir, ok
from tests.imagegen import encode, photo

pytestmark = pytest.mark.slow

ORIGINAL = photo(11)
PHOTOS = {
    "trip/beach.jpg": encode(ORIGINAL, "JPEG", quality=92),
    "trip/beach-small.png": encode(ORIGINAL.resize((200, 150), Image.Resampling.LANCZOS), "PNG"),
    "phone/beach-q50.jpg": encode(ORIGINAL, "JPEG", quality=50),
    "phone/beach-turned.webp": encode(ORIGINAL.transpose(Image.Transpose.ROTATE_90), "WEBP", quality=80),
    "burst/beach-2.jpg": encode(photo(11, shift=(0.02, 0.01), subject=(0.03, 0.0)), "JPEG", quality=92),
    "burst/beach-3.jpg": encode(photo(11, shift=(0.03, 0.0), exposure=0.85), "JPEG", quality=92),
    "hills.jpg": encode(photo(12), "JPEG", quality=92),
    "copy of hills.jpg": encode(photo(12), "JPEG", quality=85),  # the same picture saved again: other bytes
}
SAME_BYTES = {"backup/beach.jpg": PHOTOS["trip/beach.jpg"]}
BEACH = {"trip/beach.jpg", "trip/beach-small.png", "phone/beach-q50.jpg", "phone/beach-turned.webp"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory, synthesized: Path, ai_double: AiServicesDouble) -> Path:
    root = tmp_path_factory.mktemp("duplicates")
    for relative, data in {**PHOTOS, **SAME_BYTES}.items():
        (root / "photos" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "photos" / relative).write_bytes(data)
    state = new_state_dir(synthesized, root / "state")
    ok(imgpipe("upload", root / "photos", "--state-dir", state, "--workers", "2", env=cli_env(ai_double)))
    return state


def keys(group: dict) -> set[str]:
    return {member["key"] for member in group["members"]}


def test_groups_copies_apart_from_bursts_and_identical_files(state: Path, double: AiServicesDouble) -> None:
    findings = as_json(imgpipe("duplicates", "--json", "--state-dir", state, env=cli_env(double)))
    assert [keys(g) for g in findings["identical"]] == [{"trip/beach.jpg", "backup/beach.jpg"}]
    near = sorted((keys(g) for g in findings["near"]), key=len)
    # The hills saved twice at other JPEG qualities: the same picture, other bytes.
    assert near == [{"hills.jpg", "copy of hills.jpg"}, BEACH | {"backup/beach.jpg"}]
    beach = next(g for g in findings["near"] if "trip/beach.jpg" in keys(g))
    turned = next(m for m in beach["members"] if m["key"] == "phone/beach-turned.webp")
    assert (turned["width"], turned["height"]) == (600, 800)
    assert findings["images"] == len(PHOTOS) + len(SAME_BYTES) and findings["without_hash"] == 0


def test_the_table_and_a_stricter_distance(state: Path, double: AiServicesDouble) -> None:
    env = cli_env(double, COLUMNS="80")
    shown = ok(imgpipe("duplicates", "--state-dir", state, env=env)).stdout
    assert "identical bytes" in shown and "near-duplicate" in shown and "burst/" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    assert "1 identical-bytes and 2 near-duplicate group(s) in 9 image(s) (distance <= 16)." in shown
    strict = as_json(imgpipe("duplicates", "--json", "--max-distance", "0", "--state-dir", state, env=env))
    assert all(m["distance"] == 0 for g in strict["near"] for m in g["members"])
    assert imgpipe("duplicates", "--max-distance", "-1", "--state-dir", state, env=env).returncode == 2


def test_no_local_stack_is_exit_code_2(tmp_path: Path, synthesized: Path, double: AiServicesDouble) -> None:
    done = imgpipe("duplicates", "--state-dir", tmp_path / "none", env=cli_env(double))
    assert done.returncode == 2 and "Traceback" not in done.stderr
