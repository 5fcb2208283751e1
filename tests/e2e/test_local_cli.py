"""End-to-end tests of the `imgpipe local` and `imgpipe demo` commands, each run as its own process.

Bedrock and Rekognition are the wire-level double (imgpipe/simulated/ai_services.py), reached only through
AWS_ENDPOINT_URL_BEDROCK_RUNTIME / AWS_ENDPOINT_URL_REKOGNITION in the command's environment: the CLI
itself does not know about it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from imgpipe.local.stackspec import StackSpec
from imgpipe.simulated import ai_answers
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.e2e.helpers import (
    AI_OPERATIONS,
    calls_for,
    cli_env,
    closest_upload,
    describe,
    image,
    load_json,
    png_with_alpha,
    results_files,
    run_cli,
)

pytestmark = pytest.mark.slow


# relative path -> (bytes, the format Pillow reports for it): every accepted format, awkward keys.
MIXED_FOLDER: dict[str, tuple[bytes, str]] = {
    "plain.jpg": (image(1, "JPEG", "Blue"), "JPEG"),
    "graphics/logo with alpha.png": (png_with_alpha(2), "PNG"),
    "gifs/100% done.gif": (image(3, "GIF", "Red"), "GIF"),
    "web/a+b=c.webp": (image(4, "WEBP", "Green"), "WEBP"),
    "nested/deep/er/scan.bmp": (image(5, "BMP", "Blue"), "BMP"),
    "ünïcødé/日本語 写真.tiff": (image(6, "TIFF", "Green"), "TIFF"),
    "phone/IMG 0001.heic": (image(7, "HEIF", "Blue"), "HEIF"),
    "spaces in name/red + blue.jpg": (image(8, "JPEG", "Red"), "JPEG"),
}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


@dataclass
class Run:
    done: CompletedProcess[str]
    state: Path
    calls: list[dict[str, Any]]


@pytest.fixture(scope="module")
def double(_fake_aws_environment: None) -> Iterator[AiServicesDouble]:
    with AiServicesDouble() as running:
        yield running


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(tmp_path_factory.mktemp("mixed"), {k: v for k, (v, _) in MIXED_FOLDER.items()})


@pytest.fixture(scope="module")
def first_run(mixed_folder: Path, double: AiServicesDouble, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`imgpipe local <folder> --aws-ai` with the double, into a fresh state directory."""
    state = tmp_path_factory.mktemp("state") / ".imgpipe"
    double.reset()
    done = run_cli("local", mixed_folder, "--aws-ai", "--state-dir", state, env=cli_env(double.env()))
    return Run(done, state, double.calls)


def test_every_format_and_awkward_key_gets_exactly_one_result_from_its_own_image(first_run: Run) -> None:
    done, results = first_run.done, first_run.state / "results"
    assert done.returncode == 0, describe(done)
    expected_files = {f"{rel}{suffix}" for rel in MIXED_FOLDER for suffix in (".json", ".txt")}
    assert results_files(results) == expected_files
    uploads = {rel: data for rel, (data, _) in MIXED_FOLDER.items()}

    for relative, (data, pillow_format) in MIXED_FOLDER.items():
        document = load_json(results / f"{relative}.json")
        assert document["image"]["key"] == f"images/{relative}"
        assert document["image"]["format"] == pillow_format
        assert document["status"] == "complete", document
        analyses = document["analyses"]
        assert {
            analyses["outcomes"][name]["status"] for name in ("location", "labels", "text", "moderation")
        } == {"ok"}
        # The double writes the fingerprint of the pixels it received as the image's text: this
        # result was computed from THIS upload, not a neighbour's.
        words = [w for line in analyses["text"] for w in line["text"].split() if len(w) == 16]
        assert words, analyses["text"]
        assert {closest_upload(w, uploads) for w in words} == {relative}
        assert ai_answers.dominant_colour(data) in [label["name"] for label in analyses["labels"]]
        # Bedrock got its own rendition; the double's answer names the fingerprint it saw too.
        described = [w for w in analyses["location"]["description"].split() if len(w) == 16]
        assert [closest_upload(w, uploads) for w in described] == [relative], analyses["location"]
        assert (results / f"{relative}.txt").read_text(encoding="utf-8").strip()

    # Exactly one call of each kind per image: nothing analysed twice, nothing mixed up.
    calls = first_run.calls
    assert all(c["outcome"] == "OK" for c in calls), [c for c in calls if c["outcome"] != "OK"]
    assert len(calls) == len(AI_OPERATIONS) * len(MIXED_FOLDER)
    for relative, data in uploads.items():
        for operation in AI_OPERATIONS:
            assert len(calls_for(calls, operation, data)) == 1, (relative, operation)

    table_rows = [line for line in done.stdout.splitlines() if "complete" in line]
    for relative in MIXED_FOLDER:
        assert any(relative in row for row in table_rows), f"{relative} missing from\n{done.stdout}"
    assert "Uploaded 8 file(s)" in done.stdout


def test_a_rerun_skips_the_images_already_done(
    first_run: Run, mixed_folder: Path, double: AiServicesDouble
) -> None:
    assert first_run.done.returncode == 0, describe(first_run.done)
    results = first_run.state / "results"
    before = {name: (results / name).read_bytes() for name in results_files(results)}
    double.reset()

    done = run_cli(
        "local", mixed_folder, "--aws-ai", "--state-dir", first_run.state, env=cli_env(double.env())
    )

    assert done.returncode == 0, describe(done)
    assert f"Uploaded 0 file(s); {len(MIXED_FOLDER)} unchanged since the last run" in done.stdout
    assert double.calls == [], "nothing is analysed again"
    after = {name: (results / name).read_bytes() for name in results_files(results)}
    assert after == before, "the earlier results are kept as they were"
    for relative in MIXED_FOLDER:  # the table still accounts for every file
        assert any(relative in line and "complete" in line for line in done.stdout.splitlines()), relative


def test_without_aws_ai_the_analyses_are_skipped_never_invented(
    tmp_path: Path, double: AiServicesDouble
) -> None:
    folder = write_folder(tmp_path / "in", {"one.jpg": image(11), "two/two.png": image(12, "PNG")})
    state = tmp_path / "state"
    double.reset()

    # The double's endpoints are in the environment: had anything called an AI service, it would show.
    done = run_cli("local", folder, "--state-dir", state, env=cli_env(double.env()))

    assert done.returncode == 0, describe(done)
    assert double.calls == []
    for relative in ("one.jpg", "two/two.png"):
        document = load_json(state / "results" / f"{relative}.json")
        assert document["status"] == "complete"
        analyses = document["analyses"]
        for name in ("location", "labels", "text", "moderation"):
            outcome = analyses["outcomes"][name]
            assert outcome["status"] == "skipped" and outcome["reason"], (relative, name, outcome)
        assert analyses["location"] is None and analyses["moderation"] is None
        assert analyses["labels"] == [] and analyses["text"] == []
    records = [json.loads(line) for line in (state / "snapshot" / "table.jsonl").read_text().splitlines()]
    results = [r for r in records if r["sk"]["S"] == "RESULT"]
    assert len(results) == 2
    assert all("location" not in r and r["labels"] == {"L": []} for r in results), results
    assert "--aws-ai" in done.stdout, "the output says how to turn the analyses on"


def test_changing_the_input_prefix_in_the_context_changes_the_local_run(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "in", {"a.jpg": image(21), "sub dir/b.png": image(22, "PNG")})
    state = tmp_path / "state"

    done = run_cli(
        "local", folder, "--state-dir", state, "--context", 'input_prefix="uploads/"', env=cli_env()
    )

    assert done.returncode == 0, describe(done)
    # The template the run was built from carries the new prefix: no Python was changed for it.
    (template,) = (state / "cdk.out").glob("*.template.json")
    spec = StackSpec.load(template)
    assert {n.prefix for n in spec.notifications} == {"uploads/"}
    assert spec.function_environment["INPUT_PREFIX"] == "uploads/"
    assert spec.function_environment["OUTPUT_PREFIX"] == "results/"
    assert results_files(state / "results") == {
        "a.jpg.json",
        "a.jpg.txt",
        "sub dir/b.png.json",
        "sub dir/b.png.txt",
    }
    for relative in ("a.jpg", "sub dir/b.png"):
        document = load_json(state / "results" / f"{relative}.json")
        assert document["image"]["key"] == f"uploads/{relative}"
        assert document["status"] == "complete"
    objects = json.loads((state / "snapshot" / "objects.json").read_text())
    assert set(objects) == {
        "uploads/a.jpg",
        "uploads/sub dir/b.png",
        *(f"results/{r}{s}" for r in ("a.jpg", "sub dir/b.png") for s in (".json", ".txt")),
    }
    records = [json.loads(line) for line in (state / "snapshot" / "table.jsonl").read_text().splitlines()]
    keys = {r["image_key"]["S"] for r in records if r["sk"]["S"] == "RESULT"}
    assert keys == {"uploads/a.jpg", "uploads/sub dir/b.png"}


def test_demo_accounts_for_every_sample(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    # A newcomer's machine: no AWS credentials, region or profile anywhere (no ~/.aws either)
    bare = {k: v for k, v in cli_env().items() if not k.startswith("AWS_")} | {"HOME": str(tmp_path)}

    done = run_cli("demo", "--state-dir", state, env=bare)

    assert done.returncode == 0, describe(done)
    samples = sorted(
        p.relative_to(state / "samples").as_posix() for p in (state / "samples").rglob("*") if p.is_file()
    )
    assert len(samples) == 10
    images = [s for s in samples if s != "broken/notes.txt.jpg"]  # text: skipped by content, as upload does
    assert results_files(state / "results") == {f"{s}{x}" for s in images for x in (".json", ".txt")}
    documents = {s: load_json(state / "results" / f"{s}.json") for s in images}
    failed = {s: d["error"] for s, d in documents.items() if d["status"] == "failed"}
    assert set(failed) == {"broken/corrupt.jpg"}, failed
    assert "truncated" in failed["broken/corrupt.jpg"]["message"]
    assert all(d["status"] == "complete" for s, d in documents.items() if s not in failed)
    lines = done.stdout.splitlines()
    for sample in samples:
        assert any(sample in line for line in lines), f"{sample} missing from\n{done.stdout}"
    assert "Uploaded 9 file(s); 1 file(s) skipped as not images" in done.stdout
    assert "not accounted for" not in done.stdout
