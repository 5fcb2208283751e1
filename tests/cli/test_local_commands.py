"""The operator commands against the local emulated stack, with the AI double answering for Bedrock and
Rekognition (it labels a picture by its mean colour, and flags saturated red as violent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imgpipe.simulated import ai_answers
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.cli.helpers import (
    NOT_IMAGES,
    PHOTOS,
    Uploaded,
    as_json,
    cli_env,
    describe,
    imgpipe,
    keys_of,
    ok,
    picture,
)

pytestmark = pytest.mark.slow

ALL_KEYS = {f"images/{relative}" for relative in PHOTOS}


def labels_calls(calls: list[dict], data: bytes) -> list[dict]:
    want = ai_answers.fingerprint(data)
    return [
        c
        for c in calls
        if c["operation"] == "DetectLabels"
        and any(ai_answers.fingerprints_match(i.get("fingerprint") or "", want) for i in c["images"])
    ]


def query(state: Path, *args: str, env: dict[str, str]) -> list[dict]:
    records = as_json(imgpipe("query", "--state-dir", state, "--json", "--limit", "1000", *args, env=env))
    assert isinstance(records, list)
    return records


# --------------------------------------------------------------------------- upload


def test_upload_analyses_every_image_and_skips_other_files(uploaded: Uploaded) -> None:
    assert f"Uploaded {len(PHOTOS)} image(s)" in uploaded.output
    assert f"{len(NOT_IMAGES)} file(s) skipped as not images" in uploaded.output  # notes.jpg by content
    assert f"Analysed {len(PHOTOS)} image(s): {len(PHOTOS)} complete" in uploaded.output
    for relative, data in uploaded.images.items():
        assert len(labels_calls(uploaded.calls, data)) == 1, relative


def test_upload_then_query_by_label_finds_exactly_the_red_images(
    uploaded: Uploaded, double: AiServicesDouble
) -> None:
    env = cli_env(double)
    assert {r["image_key"] for r in query(uploaded.state, "--label", "Red", env=env)} == keys_of("Red")
    assert {r["image_key"] for r in query(uploaded.state, "--label", "blue", env=env)} == keys_of("Blue")
    # Parent labels are indexed too: every picture has a colour.
    assert {r["image_key"] for r in query(uploaded.state, "--label", "Colour", env=env)} == ALL_KEYS
    table = ok(imgpipe("query", "--state-dir", uploaded.state, "--label", "Red", env=env)).stdout
    assert "red-1.jpg" in table and "blue-1.jpg" not in table


def test_query_by_key_text_flag_status_and_date(uploaded: Uploaded, double: AiServicesDouble) -> None:
    env, state = cli_env(double), uploaded.state
    (record,) = query(state, "--key", "same/a.png", env=env)
    assert record["image_key"] == "images/same/a.png" and record["labels"][0] == "Blue"
    assert "pk" not in record and "gsi2pk" not in record  # table internals stay out of --json
    # The double's DetectText reads "FP <fingerprint>": one picture's fingerprint finds that picture.
    wanted = record["text"].split()[1]
    assert [r["image_key"] for r in query(state, "--text", wanted.upper(), env=env)] == ["images/same/a.png"]
    assert {r["image_key"] for r in query(state, "--flagged", env=env)} == keys_of("Red")
    assert query(state, "--flagged", "--label", "Blue", env=env) == []
    assert query(state, "--status", "failed", env=env) == []
    today = datetime.now(UTC).date().isoformat()
    in_range = query(state, "--since", "2000-01-01", "--until", today, env=env)
    assert {r["image_key"] for r in in_range} == ALL_KEYS
    newest_first = [r["updated_at"] for r in in_range]
    assert newest_first == sorted(newest_first, reverse=True)
    assert query(state, "--until", "2000-01-01", env=env) == []
    assert len(query(state, "--limit", "2", env=env)) == 2


def test_upload_skips_unchanged_files_and_non_images(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    run = uploaded.copy(tmp_path)
    env = cli_env(double)
    again = ok(imgpipe("upload", run.photos, "--state-dir", run.state, "--aws-ai", "--workers", "2", env=env))
    assert "Uploaded 0 image(s)" in again.stdout, describe(again)
    assert f"{len(PHOTOS)} unchanged" in again.stdout and f"{len(NOT_IMAGES)} file(s) skipped" in again.stdout
    assert double.calls == []
    changed = picture("Blue", 99)
    (run.photos / "red-1.jpg").write_bytes(changed)  # now a blue picture under the same name
    once_more = ok(
        imgpipe("upload", run.photos, "--state-dir", run.state, "--aws-ai", "--workers", "2", env=env)
    )
    assert "Uploaded 1 image(s)" in once_more.stdout and f"{len(PHOTOS) - 1} unchanged" in once_more.stdout
    # every analysis once, on the changed image only (its text is too short for Comprehend)
    assert len(labels_calls(double.calls, changed)) == 1
    assert sorted(c["operation"] for c in double.calls) == [
        "Converse", "DetectFaces", "DetectLabels", "DetectModerationLabels", "DetectText", "InvokeModel"
    ]  # fmt: skip
    assert "images/red-1.jpg" in {r["image_key"] for r in query(run.state, "--label", "Blue", env=env)}


# --------------------------------------------------------------------------- stats


def test_stats_match_the_table(uploaded: Uploaded, double: AiServicesDouble) -> None:
    env, state = cli_env(double), uploaded.state
    stats = as_json(imgpipe("stats", "--state-dir", state, "--json", env=env))
    records = query(state, env=env)  # every status partition of the by-status index
    assert stats["statuses"] == {s: sum(r["status"] == s for r in records) for s in stats["statuses"]}
    assert stats["statuses"]["complete"] == len(query(state, "--status", "complete", env=env)) == len(PHOTOS)
    assert stats["images"] == len(records) == len(PHOTOS)
    assert stats["flagged"] == len(query(state, "--flagged", env=env)) == len(keys_of("Red"))
    assert stats["input_tokens"] == sum(r["input_tokens"] for r in records) > 0
    assert stats["output_tokens"] == sum(r["output_tokens"] for r in records) > 0
    assert stats["estimated_cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in records))
    assert stats["queued"] == 0 and stats["dead_letters"] == 0
    table = ok(imgpipe("stats", "--state-dir", state, env=env)).stdout
    assert "flagged by moderation" in table and "in dead-letter queue" in table


# --------------------------------------------------------------------------- backfill


def test_backfill_without_force_enqueues_nothing_for_done_images(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    run = uploaded.copy(tmp_path)
    done = ok(
        imgpipe("backfill", "--state-dir", run.state, "--aws-ai", "--workers", "2", env=cli_env(double))
    )
    assert f"Examined {len(PHOTOS)} object(s)" in done.stdout and "enqueued 0" in done.stdout, describe(done)
    assert double.calls == []


def test_backfill_force_after_a_threshold_change_reprocesses_exactly_the_done_images(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    run = uploaded.copy(tmp_path)
    env = cli_env(double)
    before = {r["image_key"]: r for r in query(run.state, env=env)}
    stricter = ("--context", "labels_min_confidence=90")  # a new function configuration: new fingerprint
    done = ok(
        imgpipe(
            "backfill", "--force", *stricter, "--state-dir", run.state, "--aws-ai", "--workers", "2", env=env
        )
    )
    assert f"enqueued {len(PHOTOS)}" in done.stdout and f"{len(PHOTOS)} complete" in done.stdout, describe(
        done
    )
    for relative, data in run.images.items():  # every done image analysed again, exactly once
        assert len(labels_calls(double.calls, data)) == 1, relative
    assert len([c for c in double.calls if c["operation"] == "DetectLabels"]) == len(PHOTOS)
    after = {r["image_key"]: r for r in query(run.state, env=env)}
    assert after.keys() == before.keys() == ALL_KEYS
    fingerprints = {r["settings_fingerprint"] for r in after.values()}
    assert len(fingerprints) == 1 and fingerprints.isdisjoint(
        {r["settings_fingerprint"] for r in before.values()}
    )
    assert all(after[k]["updated_at"] > before[k]["updated_at"] for k in ALL_KEYS)
    assert not (run.state / "backfill-checkpoint.json").exists()  # finished: the next run starts over
    double.reset()
    again = ok(
        imgpipe("backfill", *stricter, "--state-dir", run.state, "--aws-ai", "--workers", "2", env=env)
    )
    assert "enqueued 0" in again.stdout and double.calls == []


def test_backfill_after_a_threshold_change_runs_only_the_analysis_it_shapes(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    # Given images analysed under the defaults, When the labels threshold changes and backfill runs
    run = uploaded.copy(tmp_path)
    env = cli_env(double)
    before = {r["image_key"]: r for r in query(run.state, env=env)}
    stricter = ("--context", "labels_min_confidence=90")
    done = ok(imgpipe("backfill", *stricter, "--state-dir", run.state, "--aws-ai", "--workers", "2", env=env))
    # Then every image is refreshed with one DetectLabels call each, and no other AI call is made
    assert f"enqueued {len(PHOTOS)}" in done.stdout and "only labels ran again" in done.stdout, describe(done)
    assert sorted(c["operation"] for c in double.calls) == ["DetectLabels"] * len(PHOTOS)
    after = {r["image_key"]: r for r in query(run.state, env=env)}
    for key in ALL_KEYS:
        assert after[key]["location"] == before[key]["location"], key  # Claude's answer kept
        changed = {
            name
            for name, fingerprint in after[key]["analysis_fingerprints"].items()
            if before[key]["analysis_fingerprints"][name] != fingerprint
        }
        assert changed == {"labels"}, key
    double.reset()
    again = ok(
        imgpipe("backfill", *stricter, "--state-dir", run.state, "--aws-ai", "--workers", "2", env=env)
    )
    assert "enqueued 0" in again.stdout and double.calls == []


def test_backfill_resumes_after_its_checkpoint(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    run = uploaded.copy(tmp_path)
    env = cli_env(double)
    records = query(run.state, env=env)
    keys = sorted(ALL_KEYS)
    scope = {"bucket": records[0]["bucket"], "prefix": "images/", "force": True}
    (run.state / "backfill-checkpoint.json").write_text(json.dumps({"scope": scope, "last_key": keys[2]}))
    done = ok(
        imgpipe(
            "backfill",
            "--force",
            "--page-size",
            "2",
            "--state-dir",
            run.state,
            "--aws-ai",
            "--workers",
            "2",
            env=env,
        )
    )
    assert f"Resuming after {keys[2]!r}" in done.stderr, describe(done)
    assert f"enqueued {len(keys) - 3}" in done.stdout
    reprocessed = {k for k in keys for c in labels_calls(double.calls, run.images[k.removeprefix("images/")])}
    assert reprocessed == set(keys[3:])


# --------------------------------------------------------------------------- sync


def test_sync_writes_results_next_to_the_right_files(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    run = uploaded.copy(tmp_path)
    env = cli_env(double)
    (run.photos / "trip" / "new.jpg").write_bytes(picture("Blue", 42))  # never uploaded
    done = ok(imgpipe("sync", run.photos, "--json", "--state-dir", run.state, env=env))
    assert f"Wrote {2 * len(PHOTOS)} result file(s)" in done.stdout, describe(done)
    assert "1 image(s) have no result yet" in done.stdout and "trip/new.jpg" in done.stdout
    jpg, png = run.photos / "same" / "a.jpg.txt", run.photos / "same" / "a.png.txt"
    assert "Red (" in jpg.read_text() and "Blue (" in png.read_text()  # each beside its own image
    assert json.loads((run.photos / "same" / "a.png.json").read_text())["image"]["key"] == "images/same/a.png"
    for relative in PHOTOS:
        assert (run.photos / f"{relative}.txt").is_file(), relative
    assert not (run.photos / "trip" / "new.jpg.txt").exists() and not (run.photos / "notes.jpg.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "state"]  # nothing written outside
    again = ok(imgpipe("sync", run.photos, "--json", "--state-dir", run.state, env=env))
    assert (
        "Wrote 0 result file(s)" in again.stdout and f"({2 * len(PHOTOS)} already up to date)" in again.stdout
    )


# --------------------------------------------------------------------------- report and errors


def test_report_writes_markdown_and_html(
    uploaded: Uploaded, double: AiServicesDouble, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    done = ok(imgpipe("report", "--out", out, "--state-dir", uploaded.state, env=cli_env(double)))
    assert f"({len(PHOTOS)} image(s))" in done.stdout
    markdown, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    for key in ALL_KEYS:
        assert key.replace("+", "\\+") in markdown or key in markdown, key
        assert key in html, key
    assert "data:image/jpeg;base64," in html  # thumbnails of the images themselves


def test_commands_that_read_need_a_local_stack(double: AiServicesDouble, tmp_path: Path) -> None:
    for command in (["query"], ["stats"], ["report"], ["backfill"], ["sync", str(tmp_path)]):
        done = imgpipe(*command, "--state-dir", tmp_path / "nothing", env=cli_env(double))
        assert done.returncode == 2, describe(done)
        assert "No local stack" in done.stderr and "imgpipe upload" in done.stderr
