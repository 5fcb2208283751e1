"""Issue 13, item 4, through the real code: `local` and `upload` share one upload path (the same files
skipped, the same notion of unchanged), an interrupted upload or run keeps what finished, and
`purge` removes images so their results and records go too, asking first."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from image_analysis.domain.keys import KeyLayout
from rich.console import Console

from imgpipe.files import scan_folder
from imgpipe.simulated.ai_services import AiServicesDouble
from imgpipe.target import Target
from imgpipe.uploads import UploadInterrupted, transfer
from tests.cli.helpers import PHOTOS, Uploaded, cli_env, imgpipe, new_state_dir, ok, picture
from tests.support import PROJECT_ROOT, Stack, describe


def objects(state: Path) -> set[str]:
    return set(json.loads((state / "snapshot" / "objects.json").read_text()))


def records(state: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = ok(imgpipe("query", "--json", "--limit", "1000", "--state-dir", state, env=env))
    return {r["image_key"]: r for r in json.loads(done.stdout)}


# --------------------------------------------------------------------------- one set of rules


def test_local_and_upload_skip_the_same_files_and_agree_on_unchanged(
    tmp_path: Path,
    synthesized: Path,
) -> None:
    photos = tmp_path / "photos"
    for relative, data in {
        "a.jpg": picture("Red", 1),
        "a.jpg.txt": b"what imgpipe sync wrote\n",
        "a.jpg.json": b"{}",
        "trip/b.png": picture("Blue", 2, "PNG"),
        ".hidden/c.jpg": picture("Red", 3),
        "notes.txt": b"not a picture\n",
    }.items():
        (photos / relative).parent.mkdir(parents=True, exist_ok=True)
        (photos / relative).write_bytes(data)
    state, env = new_state_dir(synthesized, tmp_path / "state"), dict(os.environ)
    local = ok(imgpipe("local", photos, "--state-dir", state, "--workers", "1", env=env))
    skipped = "1 file(s) skipped as not images, 2 as imgpipe results beside their image, 1 as hidden"
    assert f"Uploaded 2 file(s); {skipped}" in local.stdout, describe(local)
    assert {k for k in objects(state) if k.startswith("images/")} == {"images/a.jpg", "images/trip/b.png"}
    again = ok(imgpipe("upload", photos, "--state-dir", state, "--workers", "1", env=env))
    assert "Uploaded 0 image(s) (0.0 MB) to s3://" in again.stdout, describe(again)
    assert f"2 unchanged since an earlier upload; {skipped}." in again.stdout
    # An analysis made without AI is not "unchanged" for a run that wants the AI: it is sent again.
    simulated = ok(imgpipe("upload", photos, "--simulated-ai", "--state-dir", state, env=env))
    assert "Uploaded 2 image(s)" in simulated.stdout and "2 complete" in simulated.stdout
    assert all(r.get("simulated") for r in records(state, env).values())


# --------------------------------------------------------------------------- interruptions


class InterruptedS3:
    """S3 as the emulator answers, but the `fail_on`-th upload is interrupted (Ctrl-C mid-transfer)."""

    def __init__(self, s3: Any, fail_on: int) -> None:
        self._s3, self._fail_on, self.uploads = s3, fail_on, 0

    def upload_file(self, *args: Any, **kwargs: Any) -> None:
        self.uploads += 1
        if self.uploads == self._fail_on:
            raise KeyboardInterrupt
        self._s3.upload_file(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_an_interrupted_upload_keeps_what_finished_and_the_rerun_continues(
    stack: Stack, tmp_path: Path
) -> None:
    for number in range(6):
        (tmp_path / f"{number}.jpg").write_bytes(picture("Red", number))
    images = scan_folder(tmp_path).images
    s3 = InterruptedS3(stack.s3, fail_on=3)
    target = Target(
        "moto", stack.bucket, stack.table, "", None, KeyLayout("images/", "results/"), s3, None, None
    )
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the test process
    with pytest.raises(UploadInterrupted) as interrupted:
        transfer(target, images, "", 1, quiet)
    kept = set(interrupted.value.done.uploaded)
    # The two before it are kept; the one the single worker had started meanwhile may finish; no
    # other transfer starts after Ctrl-C.
    assert {"images/0.jpg", "images/1.jpg"} <= kept <= {"images/0.jpg", "images/1.jpg", "images/3.jpg"}
    assert f"Interrupted after {len(kept)} of 6 image(s) were uploaded" in str(interrupted.value)
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket)["Contents"]
    assert {o["Key"] for o in listed} == kept
    rerun = transfer(target, images, "", 4, quiet)
    assert set(rerun.unchanged) == kept
    assert set(rerun.uploaded) == {f"images/{n}.jpg" for n in range(6)} - kept


def test_ctrl_c_during_a_local_run_keeps_the_finished_analyses(
    tmp_path: Path,
    synthesized: Path,
    double: AiServicesDouble,
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for number in range(6):
        (photos / f"{number}.jpg").write_bytes(picture("Blue" if number % 2 else "Red", number))
    state, env = new_state_dir(synthesized, tmp_path / "state"), cli_env(double)
    double.configure(latency_bedrock=1.5)
    command = [sys.executable, "-m", "imgpipe.cli", "upload", str(photos), "--aws-ai", "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--state-dir", str(state)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not any(c["operation"] == "Converse" for c in double.calls) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, f"{out}\n{err}"
    assert "Interrupted" in err
    double.configure(latency_bedrock=0.0)
    finished = {k for k, r in records(state, env).items() if r["status"] == "complete"}
    assert {f"images/{n}.jpg" for n in range(6)} <= objects(state)  # every upload was kept
    double.reset()
    rerun = ok(imgpipe(*command[3:], "--state-dir", state, env=env))
    assert f"{len(finished)} unchanged since an earlier upload" in rerun.stdout, describe(rerun)
    assert f"Analysed {6 - len(finished)} image(s): {6 - len(finished)} complete" in rerun.stdout
    assert len([c for c in double.calls if c["operation"] == "DetectLabels"]) == 6 - len(finished)
    assert {r["status"] for r in records(state, env).values()} == {"complete"}


# --------------------------------------------------------------------------- purge


def test_purge_removes_images_with_their_results_and_records(
    uploaded: Uploaded,
    double: AiServicesDouble,
    tmp_path: Path,
) -> None:
    run, env = uploaded.copy(tmp_path), cli_env(double)
    before = objects(run.state)
    assert {"images/same/a.jpg", "results/same/a.jpg.json", "results/same/a.jpg.txt"} <= before
    refused = imgpipe("purge", "same/a.jpg", "--state-dir", run.state, env=env)  # no TTY, no --yes
    assert refused.returncode == 2 and "pass --yes" in refused.stderr, describe(refused)
    done = ok(imgpipe("purge", "same/a.jpg", "--yes", "--state-dir", run.state, env=env))
    assert "Deleted 1 image(s)" in done.stdout and "results and records are gone" in done.stdout
    after = objects(run.state)
    assert not {"images/same/a.jpg", "results/same/a.jpg.json", "results/same/a.jpg.txt"} & after
    assert "images/same/a.png" in after and "results/same/a.png.json" in after  # its neighbour stays
    left = records(run.state, env)
    assert "images/same/a.jpg" not in left and len(left) == len(PHOTOS) - 1
    ok(imgpipe("purge", "--prefix", "trip/", "--yes", "--state-dir", run.state, env=env))
    assert not any(k.startswith(("images/trip/", "results/trip/")) for k in objects(run.state))
    missing = imgpipe("purge", "no/such.jpg", "--yes", "--state-dir", run.state, env=env)
    assert missing.returncode == 2 and "nothing to purge" in missing.stderr, describe(missing)


@pytest.mark.parametrize(("answer", "code"), [("no", 1), ("yes", 0)])
def test_purge_asks_on_a_terminal(
    uploaded: Uploaded,
    double: AiServicesDouble,
    tmp_path: Path,
    answer: str,
    code: int,
) -> None:
    run, env = uploaded.copy(tmp_path), cli_env(double)
    terminal, keyboard = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "imgpipe.cli", "purge", "red-1.jpg", "--state-dir", str(run.state)],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=keyboard,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(keyboard)
    os.write(terminal, f"{answer}\n".encode())
    out, err = process.communicate(timeout=300)
    os.close(terminal)
    assert process.returncode == code, f"{out}\n{err}"
    assert "Delete 1 image(s)? Type 'yes' to confirm" in err
    assert ("images/red-1.jpg" in objects(run.state)) == (answer == "no")
