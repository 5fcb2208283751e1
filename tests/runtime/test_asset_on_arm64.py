"""The asset as deployed, run as deployed: zipped, unzipped, and invoked once by CPython 3.13 on arm64.

The cdk.out asset (what `cdk deploy` uploads: tests/infra/asset.py) is zipped and unzipped as Lambda
does, then imported and invoked by Debian trixie's arm64 python3.13 under qemu-user
(tests/runtime/sysroot.py), with the stack's own handler string and environment from the template,
boto3 from a runtime directory after the asset on sys.path (as Lambda's runtime provides it), and
the emulated services on loopback: S3 and DynamoDB from moto's server, Bedrock and Rekognition from
the wire-level double (imgpipe/simulated/), S3 Vectors from imgpipe's local one, reached through
AWS_ENDPOINT_URL[_<SERVICE>]. So the runtime's botocore must know s3vectors, as Lambda's must.

This proves what no x86_64 test can: the arm64 wheels (Pillow, pillow-heif, tzfpy, wrapt) load and
work on the Lambda's architecture and Python, the pruned Pillow still decodes and encodes, the pruned
Powertools still handles a batch with a failing record, and the shipped 3.13 bytecode is the one used
(nothing in the asset is compiled at import). qemu makes it several times slower than a real
Graviton core: the times it reports are not Lambda's.
"""

from __future__ import annotations

import json
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from image_analysis.domain import table as t
from image_analysis.domain.states import ImageStatus
from image_analysis.domain.vectors import INDEX_NAME

from imgpipe.local.environment import OFFLINE_AWS_ENV
from imgpipe.local.vectors import VectorServer
from imgpipe.simulated.ai_services import AiServicesDouble
from infra.wheelhouse import PYTHON_VERSION
from tests.imagegen import jpeg
from tests.infra.asset import Bundled, bundled_asset
from tests.runtime import sysroot
from tests.support import Stack, s3_record, sqs_event

pytestmark = [pytest.mark.slow, pytest.mark.arm64]

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
FUNCTION_NAME = "imgpipe-image-analysis"
VECTOR_BUCKET = "imgpipe-arm64-vectors"
TIMEOUT_S = 600  # a safety net for a hung emulator: the run takes about a minute under qemu
# Lambda's own variables for an X-Ray traced function (Tracing: Active); the daemon is a UDP socket here.
TRACE_HEADER = "Root=1-6740c4d0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture(scope="module")
def arm64_python() -> list[str]:
    reason = sysroot.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return sysroot.python_command()


@pytest.fixture
def vectors(bundled: Bundled) -> Iterator[tuple[VectorServer, Any]]:
    """The local S3 Vectors with the template's index; a client on it, with the bucket's name."""
    index = bundled.synth.json["Resources"][bundled.synth.logical_id("Vectors/Index")]["Properties"]
    with VectorServer() as server:
        client = boto3.client("s3vectors", endpoint_url=server.endpoint)
        client.create_vector_bucket(vectorBucketName=VECTOR_BUCKET)
        client.create_index(
            vectorBucketName=VECTOR_BUCKET,
            indexName=index["IndexName"],
            dataType=index["DataType"],
            dimension=index["Dimension"],
            distanceMetric=index["DistanceMetric"],
        )
        yield server, client


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Bundled:
    return bundled_asset(tmp_path_factory)


@pytest.fixture(scope="module")
def task_root(bundled: Bundled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The asset directory zipped (sorted entries, fixed dates, as cdk-assets zips it) and unzipped."""
    archive = tmp_path_factory.mktemp("upload") / f"{bundled.asset_hash}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for path in sorted(p for p in bundled.asset.rglob("*") if p.is_file()):
            entry = zipfile.ZipInfo(
                path.relative_to(bundled.asset).as_posix(), date_time=(1980, 1, 1, 0, 0, 0)
            )
            entry.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(entry, path.read_bytes())
    root = tmp_path_factory.mktemp("var") / "task"
    with zipfile.ZipFile(archive) as unzip:
        unzip.extractall(root)
    return root


def function_environment(
    bundled: Bundled, stack: Stack, double: AiServicesDouble, vectors: VectorServer, xray: int
) -> dict[str, str]:
    """The template's environment for the function (its table and vector bucket references resolved to
    the test's), what Lambda adds for a traced python3.13 function, and the emulated services."""
    function = bundled.synth.json["Resources"][bundled.synth.logical_id("Processing/Function")]
    table_id = bundled.synth.logical_id("Storage/Results")
    env: dict[str, str] = {}
    for name, value in function["Properties"]["Environment"]["Variables"].items():
        if value == {"Ref": table_id}:
            env[name] = stack.table
        elif name == "VECTOR_BUCKET":  # a generated name, from the bucket's ARN
            env[name] = VECTOR_BUCKET
        else:
            assert isinstance(value, str), f"{name}: {value} is not resolved for this test"
            env[name] = value
    env.update(OFFLINE_AWS_ENV)
    env.pop("POWERTOOLS_TRACE_DISABLED")  # traced as on Lambda (Tracing: Active)
    env.pop("POWERTOOLS_METRICS_DISABLED")  # metrics printed as on Lambda (EMF on stdout)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["Properties"]["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python" + PYTHON_VERSION,
            "LAMBDA_TASK_ROOT": "/var/task",
            "_HANDLER": function["Properties"]["Handler"],
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AWS_ENDPOINT_URL": stack.s3.meta.endpoint_url,
            "AWS_ENDPOINT_URL_S3VECTORS": vectors.endpoint,
            **double.env(),
        }
    )
    return env


def test_the_template_describes_the_runtime_this_file_emulates(bundled: Bundled) -> None:
    function = bundled.synth.json["Resources"][bundled.synth.logical_id("Processing/Function")]["Properties"]
    assert function["Runtime"] == "python" + PYTHON_VERSION
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}


def test_one_invocation_of_the_zipped_asset_on_arm64_python_313(
    arm64_python: list[str],
    bundled: Bundled,
    task_root: Path,
    stack: Stack,
    double: AiServicesDouble,
    vectors: tuple[VectorServer, Any],
    tmp_path: Path,
) -> None:
    # Given a photo uploaded to the emulated bucket and the SQS-wrapped S3 notification Lambda receives,
    # in a batch with a malformed message (the failure path: logged, reported as the batch's one failure)
    key = "images/arm64/harbour at dusk.jpg"
    put = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=jpeg((1600, 1200)))
    record = s3_record("ObjectCreated:Put", stack.bucket, key, put.get("VersionId"), put["ETag"].strip('"'))
    event_file, result_file = tmp_path / "event.json", tmp_path / "result.json"
    event_file.write_text(json.dumps(sqs_event({"Records": [record]}, "not an S3 notification")))
    handler = bundled.synth.json["Resources"][bundled.synth.logical_id("Processing/Function")]["Properties"][
        "Handler"
    ]

    # When the arm64 python3.13 imports the handler from the unzipped asset and invokes it once
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as xray:
        xray.bind(("127.0.0.1", 0))
        xray.settimeout(0)
        command = [*arm64_python, "-I", str(BOOTSTRAP), str(task_root), str(sysroot.RUNTIME), handler]
        done = subprocess.run(
            [*command, str(event_file), str(result_file)],
            env=function_environment(bundled, stack, double, vectors[0], xray.getsockname()[1]),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        segments = _datagrams(xray)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    result: dict[str, Any] = json.loads(result_file.read_text())

    # Then it ran on CPython 3.13 for arm64, the asset's code first and boto3 from the runtime after it
    assert (result["implementation"], result["machine"]) == ("cpython", "aarch64")
    assert ".".join(map(str, result["python"][:2])) == PYTHON_VERSION
    for package in ("image_analysis", "PIL", "aws_lambda_powertools"):
        assert result["origins"][package].startswith(str(task_root)), result["origins"]
    assert result["origins"]["boto3"].startswith(str(sysroot.RUNTIME)), result["origins"]
    # and every module of the asset came from its shipped bytecode: none was compiled from source
    loaded = result["modules_from_task_root"]
    assert {"image_analysis.handler", "PIL.Image", "aws_xray_sdk.core"} <= set(loaded)
    assert [p for p in result["compiled_from_source"] if p.startswith(str(task_root))] == []
    # and the photo's record succeeded end to end, the malformed one failed alone (partial batch response)
    assert result["response"] == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}, done.stderr[-5000:]
    assert "malformed message" in done.stdout
    item = stack.dynamodb.get_item(
        TableName=stack.table,
        Key={"pk": {"S": t.image_pk(key)}, "sk": {"S": t.RESULT_SK}},
        ConsistentRead=True,
    )["Item"]
    assert item["status"]["S"] == ImageStatus.COMPLETE
    outputs = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/").get("Contents", [])
    suffixes = sorted(Path(o["Key"]).suffix for o in outputs)
    assert suffixes == [".json", ".txt"], outputs
    document = json.loads(
        stack.s3.get_object(
            Bucket=stack.bucket, Key=next(o["Key"] for o in outputs if o["Key"].endswith(".json"))
        )["Body"].read()
    )
    assert document["status"] == ImageStatus.COMPLETE
    # with both AI services called over the wire (the renditions were made by the arm64 Pillow)
    operations = {call["operation"] for call in double.calls}
    assert {"Converse", "DetectLabels", "InvokeModel"} <= operations, operations
    # and its embedding stored under its key by the runtime's botocore (s3vectors)
    index = document["analyses"]["embedding"]
    stored = vectors[1].get_vectors(
        vectorBucketName=VECTOR_BUCKET, indexName=INDEX_NAME, keys=[key], returnData=True
    )["vectors"]
    assert [len(v["data"]["float32"]) for v in stored] == [index["dimension"]]
    # and Powertools' metrics (EMF on stdout) and X-Ray segments (UDP) emitted as on Lambda
    assert '"_aws"' in done.stdout and "ImagePipeline" in done.stdout
    assert any(b"## lambda_handler" in segment for segment in segments), segments[:3]


def _datagrams(sock: socket.socket) -> list[bytes]:
    received = []
    while True:
        try:
            received.append(sock.recv(65536))
        except BlockingIOError:
            return received
