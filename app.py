#!/usr/bin/env python3
"""CDK entry point: `cdk synth` / `cdk deploy` run this (see cdk.json's "app").

Builds the one stack for the account and region the CDK CLI resolved (CDK_DEFAULT_ACCOUNT /
CDK_DEFAULT_REGION; no lookups, so synth needs no network) and runs the cdk-nag AwsSolutions checks
on everything: any finding that is not acknowledged fails the synth. A Region without the Rekognition
image APIs is refused (infra/regions.py); without a Region the template checks it at deploy time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before aws_cdk starts its jsii kernel: no Node end-of-life banner, and jsii's package cache in the
# project rather than the user's home, however the CDK CLI was started (the Makefile sets both too).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault(
    "JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(Path(__file__).resolve().parent / ".cache" / "jsii")
)

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, from_context
from infra.outputs import STACK_NAME
from infra.regions import UnsupportedRegionError
from infra.stack import ImagePipelineStack


def build(app: App) -> ImagePipelineStack:
    """Add the stack and the security checks to `app` (the tests build their apps the same way)."""
    config = from_context(app.node.get_all_context())
    env = Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    stack = ImagePipelineStack(app, STACK_NAME, config=config, env=env)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    app = App()
    try:
        build(app)
    except ConfigError as exc:
        sys.exit(f"cdk.json context: {exc}")
    except UnsupportedRegionError as exc:
        sys.exit(str(exc))
    app.synth()


if __name__ == "__main__":
    main()
