"""Synthesize the CDK app (the same app `cdk deploy` uses) into a local cloud assembly."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import CommandError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STAMP = ".imgpipe-synth.json"  # what the template in outdir was synthesized from
# Everything the template depends on besides the context (bundling is skipped: handler code is not).
SOURCES = ("app.py", "cdk.json", "infra/**/*.py", "lambdas/image_analysis/**/*.py")


class SynthError(CommandError):
    """The CDK app did not synthesize (exit code 2); the message carries its output."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Path:
    """Run app.py with cdk.json's context (plus overrides) and return the pipeline's template path.

    Asset bundling is skipped (`aws:cdk:bundling-stacks` = []): the local run imports the handler
    from the source tree, so building the arm64 bundle would only cost time. A template synthesized
    from the same inputs (context, app and infra sources, CDK version) is reused: synth takes seconds.
    """
    outdir = outdir.resolve()  # app.py runs in the project root: a relative outdir would land there
    settings = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    merged = {**settings.get("context", {}), **(context or {}), "aws:cdk:bundling-stacks": []}
    digest = _inputs_digest(merged)
    stamp = outdir / STAMP
    cached = _template(outdir) if _stamp(outdir).get("digest") == digest else None
    if cached is not None:
        return cached
    stamp.unlink(missing_ok=True)
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
    stamp.write_text(json.dumps({"digest": digest, "context": context or {}}))
    return templates[0]


def last_context(outdir: Path) -> dict[str, Any]:
    """The context overrides the template in outdir was last synthesized with ({} if none)."""
    context = _stamp(outdir).get("context")
    return context if isinstance(context, dict) else {}


def _stamp(outdir: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((outdir / STAMP).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _template(outdir: Path) -> Path | None:
    templates = [p for p in outdir.glob("*.template.json") if "image_analysis.handler" in p.read_text()]
    return templates[0] if len(templates) == 1 else None


def _inputs_digest(context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        digest.update(f"{name}={os.environ.get(name)}\n".encode())
    for package in ("aws-cdk-lib", "cdk-nag", "constructs"):
        try:
            digest.update(f"{package}=={metadata.version(package)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} missing\n".encode())
    for pattern in SOURCES:
        for path in sorted(PROJECT_ROOT.glob(pattern)):
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
