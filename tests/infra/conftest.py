"""Build the CDK app exactly as app.py does, with cdk.json's context, and read what it synthesizes.

A synth costs seconds, so each test module synthesizes once (module-scoped fixtures). Template tests
skip asset bundling (`aws:cdk:bundling-stacks` = []); test_bundling.py does the real bundling once.
Every synth here runs the cdk-nag checks: a fixture fails if any finding is unacknowledged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.templates import Synth, synth


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack with cdk.json's defaults, as `cdk synth` builds it (without bundling)."""
    return synth(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def environment() -> Iterator[pytest.MonkeyPatch]:
    """Module-scoped environment changes (the function-scoped monkeypatch cannot serve a module fixture)."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch
