"""Synthesize the CDK app (the same app `cdk deploy` uses) into a local cloud assembly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SynthError(RuntimeError):
    pass


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Path:
    """Run app.py with cdk.json's context (plus overrides) and return the pipeline's template path.

    Asset bundling is skipped (`aws:cdk:bundling-stacks` = []): the local run imports the handler
    from the source tree, so building the arm64 bundle would only cost time.
    """
    settings = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    merged = {**settings.get("context", {}), **(context or {}), "aws:cdk:bundling-stacks": []}
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(merged),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    done = subprocess.run(  # noqa: S603 - our own app with our own interpreter
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SynthError(f"synthesizing the stack failed:\n{done.stderr.strip() or done.stdout.strip()}")
    templates = [p for p in outdir.glob("*.template.json") if "image_analysis.handler" in p.read_text()]
    if len(templates) != 1:
        raise SynthError(
            f"expected one template with the image-analysis function in {outdir}, found {templates}"
        )
    return templates[0]
