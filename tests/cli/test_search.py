"""`imgpipe search` through the real CLI on the local stack with embeddings on: the function embeds
each picture with the simulated Titan Multimodal Embeddings (imgpipe/simulated/embeddings.py: a
picture's dominant colour is its strongest concept) and stores it in the local S3 Vectors; search
must rank the right pictures first for a phrase and for --like, honour the filters, and forget a
purged image. One upload for the module (a local stack start-up is slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imgpipe.simulated.ai_services import AiServicesDouble
from tests.cli.helpers import Uploaded, as_json, cli_env, imgpipe, keys_of, new_state_dir, ok, write_photos

pytestmark = pytest.mark.slow  # uploads through the CLI: minutes

EMBEDDINGS = ("--context", "enable_embeddings=true")
RED, BLUE = keys_of("Red"), keys_of("Blue")


@pytest.fixture(scope="module")
def searchable(
    tmp_path_factory: pytest.TempPathFactory, synthesized: Path, ai_double: AiServicesDouble
) -> Uploaded:
    root = tmp_path_factory.mktemp("searchable")
    images = write_photos(root / "photos")
    state = new_state_dir(synthesized, root / "state")
    ai_double.reset()
    done = ok(
        imgpipe(
            "upload", root / "photos", "--state-dir", state, "--aws-ai", *EMBEDDINGS, env=cli_env(ai_double)
        )
    )
    return Uploaded(root / "photos", state, images, done.stdout, ai_double.calls)


def search(up: Uploaded, double: AiServicesDouble, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = as_json(
        imgpipe("search", *args, "--state-dir", up.state, "--aws-ai", "--json", env=cli_env(double))
    )
    return found


def keys(hits: list[dict[str, Any]]) -> list[str]:
    return [h["image_key"] for h in hits]


def test_a_phrase_ranks_the_pictures_it_describes_first(
    searchable: Uploaded, ai_double: AiServicesDouble
) -> None:
    red = search(searchable, ai_double, "red")
    assert set(keys(red)[: len(RED)]) == RED and set(keys(red)[len(RED) :]) == BLUE
    similarities = [h["similarity"] for h in red]
    assert similarities == sorted(similarities, reverse=True)
    assert min(similarities[: len(RED)]) > max(similarities[len(RED) :])
    assert all(h["record"]["image_key"] == h["image_key"] for h in red), "joined with the records"
    blue = search(searchable, ai_double, "ocean", "--top", "2")  # a synonym the simulated model maps to Blue
    assert len(blue) == 2 and set(keys(blue)) <= BLUE


def test_like_ranks_the_same_colour_before_the_others_and_leaves_the_image_out(
    searchable: Uploaded, ai_double: AiServicesDouble
) -> None:
    found = keys(search(searchable, ai_double, "--like", "red-1.jpg"))
    assert "images/red-1.jpg" not in found
    assert set(found[: len(RED) - 1]) == RED - {"images/red-1.jpg"}
    assert set(found[len(RED) - 1 :]) == BLUE


def test_filters_narrow_the_ranking(searchable: Uploaded, ai_double: AiServicesDouble) -> None:
    assert set(keys(search(searchable, ai_double, "red", "--label", "blue"))) == BLUE  # labels: any case
    assert search(searchable, ai_double, "red", "--label", "Blue", "--label", "Red") == []
    flagged = {
        k
        for k, r in ((h["image_key"], h["record"]) for h in search(searchable, ai_double, "red"))
        if r.get("flagged")
    }
    assert set(keys(search(searchable, ai_double, "red", "--flagged"))) == flagged
    assert set(keys(search(searchable, ai_double, "red", "--not-flagged"))) == (RED | BLUE) - flagged
    assert set(keys(search(searchable, ai_double, "red", "--status", "complete"))) <= RED | BLUE


def test_errors_say_what_to_do(searchable: Uploaded, ai_double: AiServicesDouble) -> None:
    env = cli_env(ai_double)
    where = ("--state-dir", str(searchable.state))
    missing = imgpipe("search", "--like", "nothing.jpg", *where, env=env)
    assert missing.returncode == 2 and "has no vector" in missing.stderr
    both = imgpipe("search", "red", "--like", "red-1.jpg", *where, env=env)
    assert both.returncode == 2 and "one of them" in both.stderr
    no_model = imgpipe("search", "red", *where, env=env)  # neither --aws-ai nor --simulated-ai
    assert no_model.returncode == 2 and "--like KEY needs no model" in no_model.stderr


def test_a_purged_image_disappears_from_search(
    searchable: Uploaded, ai_double: AiServicesDouble, tmp_path: Path
) -> None:
    up = searchable.copy(tmp_path)
    env = cli_env(ai_double)
    ok(imgpipe("purge", "red-2.png", "--state-dir", up.state, "--yes", "--aws-ai", *EMBEDDINGS, env=env))
    found = keys(search(up, ai_double, "red"))
    assert "images/red-2.png" not in found and set(found) == (RED | BLUE) - {"images/red-2.png"}
    gone = imgpipe("search", "--like", "red-2.png", "--state-dir", up.state, env=env)
    assert gone.returncode == 2 and "has no vector" in gone.stderr


def test_with_embeddings_off_search_says_how_to_switch_them_on(
    tmp_path: Path, synthesized: Path, ai_double: AiServicesDouble
) -> None:
    state = new_state_dir(synthesized, tmp_path / "state")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(write_photos(tmp_path / "p")["red-1.jpg"])
    off_context = ("--context", "enable_embeddings=false")
    ok(
        imgpipe(
            "upload",
            tmp_path / "photos",
            "--state-dir",
            state,
            "--aws-ai",
            *off_context,
            env=cli_env(ai_double),
        )
    )
    off = imgpipe("search", "--like", "a.jpg", "--state-dir", state, env=cli_env(ai_double))
    assert off.returncode == 2 and "enable_embeddings=true" in off.stderr
