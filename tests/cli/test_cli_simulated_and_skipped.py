"""Issue 13, item 2, through the real commands: `imgpipe local` without AI says "not analysed" (never
"nothing found") in its table, results, query, stats and report; with --simulated-ai the simulated AI
services run inside the CLI (no double in the environment) and every result says SIMULATED."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from image_analysis.domain.models import SIMULATED_NOTICE

from tests.cli.helpers import imgpipe, new_state_dir, ok, picture
from tests.support import describe

IMAGES = {"red.jpg": picture("Red", 1), "trip/blue.png": picture("Blue", 2, "PNG")}
# A JPEG cut short: an image by its header, so it is uploaded, and the pipeline refuses it (truncated).
REFUSED = {"cut.jpg": picture("Red", 3)[:1000]}


@dataclass(frozen=True)
class LocalRun:
    state: Path
    stdout: str
    env: dict[str, str]

    def cli(self, *args: str | Path) -> str:
        return ok(imgpipe(*args, "--state-dir", self.state, env=self.env)).stdout

    def result(self, relative: str) -> tuple[dict[str, object], str]:
        folder = self.state / "results"
        return json.loads((folder / f"{relative}.json").read_text()), (folder / f"{relative}.txt").read_text()


def offline_env() -> dict[str, str]:
    """No AI endpoint in the environment: whatever answers, the CLI started it itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}


def local_run(root: Path, synthesized: Path, *flags: str) -> LocalRun:
    photos = root / "photos"
    for relative, data in {**IMAGES, **REFUSED}.items():
        (photos / relative).parent.mkdir(parents=True, exist_ok=True)
        (photos / relative).write_bytes(data)
    state = new_state_dir(synthesized, root / "state")
    env = offline_env()
    done = imgpipe("local", photos, "--state-dir", state, "--workers", "2", *flags, env=env)
    assert done.returncode == 0, describe(done)
    return LocalRun(state, done.stdout, env)


@pytest.fixture(scope="module")
def skipped(tmp_path_factory: pytest.TempPathFactory, synthesized: Path) -> LocalRun:
    return local_run(tmp_path_factory.mktemp("skipped"), synthesized)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory, synthesized: Path) -> LocalRun:
    return local_run(tmp_path_factory.mktemp("simulated"), synthesized, "--simulated-ai")


def test_without_ai_every_view_says_not_analysed_and_why(skipped: LocalRun) -> None:
    assert "not analysed (switched off)" in skipped.stdout and "none found" not in skipped.stdout
    document, text = skipped.result("red.jpg")
    outcomes = document["analyses"]["outcomes"]  # type: ignore[index]
    assert {outcomes[n]["status"] for n in ("location", "labels", "text", "moderation")} == {"skipped"}
    assert text.startswith("Location not analysed (switched off)\n")
    assert "labels: skipped (switched off)" in text and "Labels:" not in text
    (record,) = json.loads(skipped.cli("query", "--key", "red.jpg", "--json"))
    assert record["outcomes"]["labels"] == {"status": "skipped", "reason": "switched off"}
    assert "simulated" not in record
    nothing = imgpipe("query", "--label", "Red", "--state-dir", skipped.state, env=skipped.env)
    assert nothing.returncode == 0 and nothing.stdout.strip() == "No image matches.", describe(nothing)
    assert "labels were not analysed for 2 of 2 recent image(s) (2 switched off)" in nothing.stderr
    stats = json.loads(skipped.cli("stats", "--json"))
    assert stats["analyses"]["labels"] == {"ok": 0, "skipped": 2, "failed": 0, "unknown": 0}
    assert stats["simulated"] == 0
    skipped.cli("report", "--out", skipped.state / "report")
    markdown = (skipped.state / "report" / "report.md").read_text()
    assert markdown.count("- **Labels:** not analysed (switched off)") == 2
    assert "- **Labels:** not analysed (image refused)" in markdown  # cut.jpg
    assert "SIMULATED" not in markdown


def test_simulated_ai_answers_from_the_pixels_and_every_view_says_simulated(simulated: LocalRun) -> None:
    assert "SIMULATED AI" in simulated.stdout and SIMULATED_NOTICE.split(";")[0] in simulated.stdout
    for relative, colour in (("red.jpg", "Red"), ("trip/blue.png", "Blue")):
        document, text = simulated.result(relative)
        analyses = document["analyses"]
        assert document["simulated"] is True and document["status"] == "complete"
        assert "simulated" in analyses["location"]["model_id"]  # type: ignore[index]
        assert analyses["labels"][0]["name"] == colour  # type: ignore[index]
        assert analyses["text"][0]["box"] is not None  # type: ignore[index]
        assert text.startswith("SIMULATED AI: ") and text.rstrip().endswith(SIMULATED_NOTICE)
    refused, _ = simulated.result("cut.jpg")
    assert refused["status"] == "failed" and refused["simulated"] is False  # no AI saw it
    red = json.loads(simulated.cli("query", "--label", "Red", "--json"))
    assert [r["image_key"] for r in red] == ["images/red.jpg"] and red[0]["simulated"] is True
    assert "complete (SIMULATED)" in simulated.cli("query", "--key", "red.jpg")
    assert json.loads(simulated.cli("stats", "--json"))["simulated"] == len(IMAGES)
    simulated.cli("report", "--out", simulated.state / "report")
    page = (simulated.state / "report" / "report.html").read_text()
    assert page.count('<span class="badge simulated">SIMULATED</span>') == len(IMAGES)
    assert f"{len(IMAGES)} of {len(IMAGES) + 1} image(s): SIMULATED" in page


def test_simulated_ai_is_refused_for_a_deployed_stack() -> None:
    done = imgpipe("backfill", "--stack", "ImagePipeline", "--simulated-ai", env=offline_env())
    assert done.returncode == 2 and "apply to the local stack" in done.stderr, describe(done)
