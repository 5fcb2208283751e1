"""Fixtures for the end-to-end suite: one local pipeline per module (tests/e2e/harness.py), clean for
each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imgpipe.simulated.ai_services import DoubleConfig
from tests.e2e.harness import LocalPipeline, running_local_pipeline, wait_until


@pytest.fixture(scope="module")
def local_pipeline(
    _fake_aws_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPipeline]:
    with running_local_pipeline(tmp_path_factory.mktemp("local-pipeline")) as pipeline:
        yield pipeline


@pytest.fixture
def pipeline(local_pipeline: LocalPipeline) -> Iterator[LocalPipeline]:
    """The module's pipeline, idle, with the double's log, faults and config reset for this test."""
    wait_until(lambda: local_pipeline.queue_depth() == 0, what="an idle queue before the test")
    double = local_pipeline.double
    double.clear_poison()
    double.configure(**DoubleConfig().__dict__)
    double.reset()
    assert all(w.poll() is None for w in local_pipeline.workers), "a worker process died"
    yield local_pipeline
    double.clear_poison()
    double.reset()
