"""The commands' pure parts: where sync writes, backfill's message shape, query's date bounds."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_analysis.domain.intake import CREATED, parse_body

from imgpipe.commands.backfill import Work, message
from imgpipe.commands.query import iso_bound
from imgpipe.commands.sync import plan
from imgpipe.files import image_format, scan_folder
from imgpipe.paths import safe_local_path
from imgpipe.results import TimeRange
from tests.cli.helpers import picture
from tests.support import PROJECT_ROOT


@pytest.mark.parametrize(
    "key",
    [
        "../evil.txt",
        "a/../../evil.txt",
        "/etc/passwd",
        "a//b.txt",
        "a\\..\\b.txt",
        "a\x00.txt",
        "a/./b.txt",  # would map onto a/b.txt: two keys must never share one file
        "tab\tname.txt",
        "",
    ],
)
def test_safe_local_path_refuses_keys_that_could_leave_the_folder(tmp_path: Path, key: str) -> None:
    assert safe_local_path(tmp_path, key) is None


def test_safe_local_path_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    assert safe_local_path(root, "link/a.jpg.txt") is None
    assert safe_local_path(root, "trip/a b+c.jpg.txt") == root / "trip" / "a b+c.jpg.txt"


def test_sync_plan_writes_beside_existing_images_and_refuses_escaping_keys(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    for name in ("trip/a.jpg", "trip/a.png"):
        (folder / name).write_bytes(b"x")
    (tmp_path / "evil.jpg").write_bytes(b"x")  # next to the folder: a ../ key would reach it
    keys = [
        "results/trip/a.jpg.txt",
        "results/trip/a.png.txt",
        "results/trip/a.png.json",  # not asked for (no --json)
        "results/trip/gone.jpg.txt",  # no such local image: not written
        "results/../evil.jpg.txt",
        "results/trip/../../evil.jpg.txt",
        "results//abs.jpg.txt",
        "results/trip/./a.jpg.txt",  # inside, but another key's file
        "elsewhere/trip/a.jpg.txt",
    ]
    chosen = plan(keys, "results/", folder, (".txt",))
    assert [(w.image, w.destination) for w in chosen.writes] == [
        ("trip/a.jpg", folder / "trip" / "a.jpg.txt"),
        ("trip/a.png", folder / "trip" / "a.png.txt"),
    ]
    assert chosen.refused == [
        "results/../evil.jpg.txt",
        "results/trip/../../evil.jpg.txt",
        "results//abs.jpg.txt",
        "results/trip/./a.jpg.txt",
    ]
    assert [w.destination.name for w in plan(keys, "results/", folder, (".txt", ".json")).writes] == [
        "a.jpg.txt",
        "a.png.txt",
        "a.png.json",
    ]


def test_backfill_messages_are_s3_events_the_function_accepts() -> None:
    work = Work("images/trip/day 2/blue+2 ü.jpg", "0123abcd", 1234, "v1", None)
    (event,) = parse_body(message("bucket-1", work, force=True))
    assert (event.kind, event.bucket, event.key, event.version_id, event.etag, event.size, event.force) == (
        CREATED,
        "bucket-1",
        work.key,
        "v1",
        "0123abcd",
        1234,
        True,
    )
    (plain,) = parse_body(message("bucket-1", Work("images/a.jpg", "e", 1, None, None), force=False))
    assert not plain.force and plain.version_id is None


def test_query_dates_are_utc_prefixes_and_until_is_inclusive() -> None:
    assert iso_bound("2026-05-01") == "2026-05-01"
    assert iso_bound("2026-05-01T12:30") == "2026-05-01T12:30:00"
    assert iso_bound("2026-05-01T14:30:00+02:00") == "2026-05-01T12:30:00"
    with pytest.raises(argparse.ArgumentTypeError):
        iso_bound("May 1st")
    day = TimeRange(since="2026-05-01", until="2026-05-01")
    assert day.contains("2026-05-01T00:00:00.000Z") and day.contains("2026-05-01T23:59:59.999Z")
    assert not day.contains("2026-04-30T23:59:59.999Z") and not day.contains("2026-05-02T00:00:00.000Z")


def test_images_are_recognised_by_content_not_name(tmp_path: Path) -> None:
    (tmp_path / "photo.txt").write_bytes(picture("Red", 1, "PNG"))  # an image with the wrong name
    (tmp_path / "notes.jpg").write_bytes(b"not an image\n")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.jpg").write_bytes(picture("Red", 2))
    scan = scan_folder(tmp_path)
    assert [(i.relative, i.format) for i in scan.images] == [("photo.txt", "PNG")]
    assert sorted(p.name for p in scan.not_images) == ["empty.jpg", "notes.jpg"]
    assert image_format(tmp_path / "photo.txt") == "PNG"


def test_heic_is_an_image(tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    (tmp_path / "IMG_0001.HEIC").write_bytes(picture("Blue", 3, "HEIF"))
    assert image_format(tmp_path / "IMG_0001.HEIC") == "HEIF"


BLOCK_LOCAL_MODE = """
import importlib.abc
import sys


class WithoutLocalMode(importlib.abc.MetaPathFinder):
    '''As after `pip install imgpipe` without the `local` extra: no moto, and no imgpipe.local.'''

    def find_spec(self, name, path, target=None):
        if name == "moto" or name.startswith(("moto.", "imgpipe.local")):
            raise ImportError(f"{name} is not installed")
        return None


sys.meta_path.insert(0, WithoutLocalMode())
from imgpipe import cli

for argv in (["--help"], *([name, "--help"] for name in ("upload", "backfill", "query", "report", "sync", "stats"))):
    try:
        cli.main(argv)
    except SystemExit as exit:
        assert exit.code == 0, (argv, exit.code)
print(sorted(m for m in sys.modules if m.startswith(("moto", "imgpipe.local"))))
"""


def test_the_operator_commands_load_without_the_local_mode() -> None:
    # Given a Python where moto and imgpipe.local cannot be imported
    # When the CLI parses every operator command
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_LOCAL_MODE],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    # Then it works, and nothing of the local mode was loaded
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
