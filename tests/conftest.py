"""Fixtures shared by every suite. Nothing here reaches AWS: S3, SQS and DynamoDB are moto's server on
loopback and Bedrock/Rekognition are the wire-level test double in imgpipe/simulated/."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from image_analysis.domain.table import create_table_request
from image_analysis.runtime import Runtime, build_runtime
from image_analysis.settings import Settings
from moto.server import ThreadedMotoServer

from imgpipe.local.environment import OFFLINE_AWS_ENV
from imgpipe.local.synth import synthesize
from imgpipe.simulated.ai_services import AiServicesDouble, DoubleConfig
from tests.cli.helpers import Uploaded, cli_env, imgpipe, new_state_dir, ok, write_photos
from tests.support import Stack


@pytest.fixture(autouse=True, scope="session")
def _fake_aws_environment() -> Iterator[None]:
    """Fake credentials, and no endpoint or profile from the developer's shell can leak in."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE")):
            del os.environ[name]
    os.environ.update(OFFLINE_AWS_ENV)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def ai_double() -> Iterator[AiServicesDouble]:
    with AiServicesDouble(DoubleConfig()) as double:
        yield double


@pytest.fixture
def double(ai_double: AiServicesDouble) -> Iterator[AiServicesDouble]:
    """The shared double, with a clean call log and default behaviour for each test."""
    ai_double.configure(**DoubleConfig().__dict__)
    ai_double.reset()
    yield ai_double
    ai_double.configure(**DoubleConfig().__dict__)
    ai_double.reset()


@pytest.fixture
def endpoints(moto_endpoint: str, double: AiServicesDouble, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 at the emulators the standard way: AWS_ENDPOINT_URL[_<SERVICE>]."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name, value in double.env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def stack(endpoints: None) -> Stack:
    suffix = uuid.uuid4().hex[:10]
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    bucket, table = f"imgpipe-test-{suffix}", f"imgpipe-results-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    dynamodb.create_table(**create_table_request(table))
    return Stack(bucket=bucket, table=table, s3=s3, dynamodb=dynamodb)


@pytest.fixture
def settings(stack: Stack) -> Settings:
    # One attempt per call keeps fault-injection tests fast and exact; retry tests raise it. moto has
    # no S3 Vectors: embeddings are off here, and on in tests/integration/test_embeddings.py (with an
    # in-memory index from tests/vector_index.py).
    return Settings(results_table=stack.table, max_attempts=2, enable_embeddings=False)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.executor.shutdown(wait=True)


# The operator-command fixtures (tests/cli and the CLI tests in tests/integration): the CLI runs in its
# own process against the local emulated stack, with Bedrock and Rekognition answered by the double.
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


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser the report tests render pages in (tests/cli/test_report_render.py)."""
    path = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    if path is None:
        pytest.skip(
            "headless Chromium is not installed and could not be: `make test` installs Debian's "
            "`chromium` package (apt-get install chromium) before running the tests"
        )
    return path
