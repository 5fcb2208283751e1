"""The function's asset as `cdk synth` builds it, built once per test run and shared by the suites.

Bundling costs a synth plus a pip install and a compile (tens of seconds): tests/infra/test_bundling.py
reads the asset, tests/runtime/ runs it on linux/arm64 under qemu, and both take this one copy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.templates import Synth, synth


@dataclass
class Bundled:
    synth: Synth
    asset: Path
    asset_hash: str
    seconds: float


_built: list[Bundled] = []


def bundled_asset(tmp_path_factory: pytest.TempPathFactory) -> Bundled:
    """Synthesize app.py's stack with bundling on (once per pytest process): its cdk.out asset."""
    if not _built:
        start = time.monotonic()
        result = synth(tmp_path_factory.mktemp("cdk.out"), bundling=True)
        seconds = time.monotonic() - start
        code = result.json["Resources"][result.logical_id("Processing/Function")]["Properties"]["Code"]
        asset_hash = code["S3Key"].removesuffix(".zip")
        _built.append(
            Bundled(
                synth=result,
                asset=result.outdir / f"asset.{asset_hash}",
                asset_hash=asset_hash,
                seconds=seconds,
            )
        )
    return _built[0]
