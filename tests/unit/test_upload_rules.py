"""Issue 13, item 4: the rules `imgpipe upload` and `imgpipe local` share (what is an image, what is
skipped and counted), and the argument checks that run before anything is read or sent."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

# The CLI's code: .venv313 (the Lambda's unit tests on CPython 3.13) has the function's requirements only.
pytest.importorskip("rich", reason="needs rich, a CLI requirement, not the Lambda's")

from imgpipe import cli
from imgpipe.arguments import key_prefix, seconds, whole_number
from imgpipe.files import is_own_result, scan_paths
from tests.cli.helpers import picture


@pytest.mark.parametrize(
    ("given", "prefix"),
    [("", ""), ("trip", "trip/"), ("trip/2026/", "trip/2026/"), (" trip-2026/day 1 ", "trip-2026/day 1/")],
)
def test_a_prefix_becomes_a_folder_like_key_prefix(given: str, prefix: str) -> None:
    assert key_prefix(given) == prefix


@pytest.mark.parametrize(
    "given", ["../x", "a/../b", "/trip", "/", "a//b", "./a", "a/./b", "a\\b", "tab\there", "x" * 1024]
)
def test_a_prefix_that_could_not_be_analysed_or_removed_is_refused(given: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        key_prefix(given)


def test_numbers_are_checked_with_their_range() -> None:
    jobs = whole_number(1, 64)
    assert jobs("8") == 8
    for bad, message in (("0", "from 1 to 64"), ("65", "from 1 to 64"), ("two", "not a whole number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            jobs(bad)
    timeout = seconds(0, 86_400)
    assert timeout("1.5") == 1.5
    for bad in ("0", "-1", "nan", "inf", "86401", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            timeout(bad)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["upload", "photos", "--prefix", "../x"], "--prefix"),
        (["upload", "photos", "--jobs", "0"], "--jobs"),
        (["upload", "photos", "--workers", "0"], "--workers"),
        (["upload", "photos", "--timeout", "-5"], "--timeout"),
        (["local", "photos", "--retry-delay", "0"], "--retry-delay"),
        (["query", "--limit", "0"], "--limit"),
        (["backfill", "--page-size", "5000"], "--page-size"),
        (["backfill", "../up"], "prefix"),
        (["sync", "photos", "--prefix", "/abs"], "--prefix"),
        (["report", "--jobs", "many"], "--jobs"),
        (["purge", "--prefix", "a//b"], "--prefix"),
        (["local", "photos", "--aws-ai", "--simulated-ai"], "--simulated-ai"),
    ],
)
def test_bad_options_are_usage_errors_before_anything_runs(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--state-dir", str(tmp_path / "state")])
    assert exit_.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # nothing was started or written


def test_hidden_files_own_results_and_other_files_are_skipped_and_counted(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    files = {
        "a.jpg": picture("Red", 1),
        "a.jpg.txt": b"Red scene\n",  # what `imgpipe sync` writes beside a.jpg
        "a.jpg.json": b"{}",
        "sub/b.png": picture("Blue", 2, "PNG"),
        "notes.txt": b"shopping list\n",  # not an image, and no image beside it
        "lonely.jpg.txt": b"no lonely.jpg here\n",
        ".DS_Store": b"\0",
        ".git/objects/x.jpg": picture("Red", 3),
        "sub/.cache/y.jpg": picture("Red", 4),
    }
    for relative, data in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    scan = scan_paths([folder])
    assert [i.relative for i in scan.images] == ["a.jpg", "sub/b.png"]
    assert sorted(p.name for p in scan.own_results) == ["a.jpg.json", "a.jpg.txt"]
    assert sorted(p.name for p in scan.not_images) == ["lonely.jpg.txt", "notes.txt"]
    assert sorted(p.name for p in scan.hidden) == [".DS_Store", ".cache", ".git"]  # a folder counts once
    assert scan.skipped_summary() == (
        "2 file(s) skipped as not images, 2 as imgpipe results beside their image, 3 as hidden"
    )
    assert is_own_result(folder / "a.jpg.txt") and not is_own_result(folder / "notes.txt")


def test_single_files_are_keyed_by_their_name(tmp_path: Path) -> None:
    (tmp_path / "one.jpg").write_bytes(picture("Red", 1))
    (tmp_path / ".hidden.jpg").write_bytes(picture("Red", 2))
    scan = scan_paths([tmp_path / "one.jpg", tmp_path / ".hidden.jpg"])
    assert [i.relative for i in scan.images] == ["one.jpg"] and len(scan.hidden) == 1
    assert scan_paths([]).skipped_summary() == ""
