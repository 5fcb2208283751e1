"""Fixtures for the operator-command tests: the CLI in its own process, against the local emulated
stack (moto inside the CLI process: this process' moto backends are never reset) or, for --stack,
against this session's moto server, with Bedrock and Rekognition answered by the AI double."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imgpipe.local.synth import synthesize
from imgpipe.simulated.ai_services import AiServicesDouble
from tests.cli.helpers import Uploaded, cli_env, imgpipe, new_state_dir, ok, write_photos


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdk.json's stack, synthesized once; a state dir holding a copy skips synth (same inputs)."""
    outdir = tmp_path_factory.mktemp("synth") / "cdk.out"
    synthesize(outdir, {})
    return outdir


@pytest.fixture(scope="module")
def uploaded(
    tmp_path_factory: pytest.TempPathFactory, synthesized: Path, ai_double: AiServicesDouble
) -> Iterator[Uploaded]:
    root = tmp_path_factory.mktemp("uploaded")
    images = write_photos(root / "photos")
    state = new_state_dir(synthesized, root / "state")
    ai_double.reset()
    done = ok(
        imgpipe(
            "upload",
            root / "photos",
            "--state-dir",
            state,
            "--aws-ai",
            "--workers",
            "2",
            env=cli_env(ai_double),
        )
    )
    yield Uploaded(root / "photos", state, images, done.stdout, ai_double.calls)
    ai_double.reset()
