"""`imgpipe local --serve`: keep the emulated stack and its Lambda workers running, so the AWS CLI,
boto3 or any SDK can use it the way they use a deployed stack until Ctrl-C.

The stack's CloudFormation outputs are registered on the emulator under the deployed stack's name,
so `aws cloudformation describe-stacks --stack-name ImagePipeline` (and `imgpipe --stack
ImagePipeline`) find the local bucket, table and queues: the documentation's examples run verbatim
once the printed environment is exported. An image uploaded meanwhile is analysed as by `local`.
"""

from __future__ import annotations

import json
import shlex
import signal
import time
import warnings
from pathlib import Path
from types import FrameType

from rich.console import Console

from infra import outputs

from ..target import Target
from .emulator import FAKE_KEY
from .stackspec import LOCAL_REGION

ENV_FILE = "serve.env"  # in the state directory: `source .imgpipe/serve.env`


def environment(endpoint: str, vectors_endpoint: str | None = None) -> dict[str, str]:
    """What a shell or SDK needs to reach the emulated stack instead of AWS (S3 Vectors is served
    apart from moto, so it has its own endpoint variable)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        **({"AWS_ENDPOINT_URL_S3VECTORS": vectors_endpoint} if vectors_endpoint else {}),
        "AWS_ACCESS_KEY_ID": FAKE_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
    }


def register_outputs(target: Target, endpoint: str) -> None:
    """The local stack's outputs as a CloudFormation stack named like the deployed one (a template with
    one no-op resource: CloudFormation needs a resource, and nothing else is created)."""
    import boto3

    values = {
        outputs.BUCKET_NAME: target.bucket,
        outputs.UPLOAD_PREFIX: target.layout.input_prefix,
        outputs.RESULTS_PREFIX: target.layout.output_prefix,
        outputs.RESULTS_TABLE_NAME: target.table,
        outputs.QUEUE_URL: target.queue_url,
        **(
            {outputs.DEAD_LETTER_QUEUE_URL: target.dead_letter_queue_url}
            if target.dead_letter_queue_url
            else {}
        ),
    }
    if target.vectors is not None:
        values[outputs.VECTOR_BUCKET_NAME] = target.vectors.bucket
        values[outputs.VECTOR_INDEX_NAME] = target.vectors.index
        if target.vectors.model_id:
            values[outputs.EMBEDDING_MODEL_ID] = target.vectors.model_id
    template = {
        "Description": "imgpipe local --serve: the emulated stack's outputs (nothing is deployed)",
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {
            key: {"Value": value, "Description": outputs.DESCRIPTIONS.get(key, key)}
            for key, value in values.items()
        },
    }
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
    )
    # moto creates no such resource and says so; a placeholder is all it is meant to be.
    warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
    cloudformation.create_stack(StackName=outputs.STACK_NAME, TemplateBody=json.dumps(template))


def serve(target: Target, endpoint: str, state_dir: Path, console: Console) -> None:
    """Print how to reach the stack, then wait for Ctrl-C (or SIGTERM)."""
    register_outputs(target, endpoint)
    env = environment(endpoint, target.vectors.s3vectors.meta.endpoint_url if target.vectors else None)
    env_file = state_dir / ENV_FILE
    exports = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())
    env_file.write_text(f"{exports}\nunset AWS_PROFILE AWS_SESSION_TOKEN\n", encoding="utf-8")
    console.print(
        "\n".join(
            [
                f"Serving the local stack at {endpoint} until Ctrl-C (uploads are analysed as they arrive).",
                f"  stack   {outputs.STACK_NAME} (its outputs: aws cloudformation describe-stacks)",
                f"  bucket  {target.bucket} (upload under {target.layout.input_prefix}, results in "
                f"{target.layout.output_prefix})",
                f"  table   {target.table}",
                f"  queue   {target.queue_url}",
                "In another shell, point the AWS CLI and SDKs at it:",
                f"  source {shlex.quote(str(env_file))}",
                "or export:",
                *(f"  {line}" for line in exports.splitlines()),
                "  unset AWS_PROFILE AWS_SESSION_TOKEN",
            ]
        ),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("Stopped serving; the state is saved.", highlight=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
        env_file.unlink(missing_ok=True)


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
