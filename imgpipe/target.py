"""Where an operator command acts: a deployed stack (`--stack NAME`) or the local emulated one.

Both give the same `Target`: bucket, table, queues, key layout (prefixes) and boto3 clients. The
deployed one comes from the stack's CloudFormation outputs (names in infra/outputs.py); the local one
is built from the synthesized template in the state directory and its snapshot (imgpipe.local).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from image_analysis.domain.keys import KeyLayout
from image_analysis.fingerprints import analysis_fingerprint, analysis_fingerprints
from image_analysis.settings import Settings
from rich.console import Console

from infra import outputs

from .arguments import seconds, whole_number
from .errors import TargetError, from_aws
from .objects import queue_depth

if TYPE_CHECKING:  # the local mode is imported only when a command uses the local stack
    from .local.emulator import LocalStack
    from .local.runner import LocalOptions
    from .local.stackspec import StackSpec

DEFAULT_STATE_DIR = Path(".imgpipe")
MAX_WORKERS = 32  # local Lambda workers: each is a process
MAX_JOBS = 64  # parallel transfers
REQUIRED_OUTPUTS = (
    outputs.BUCKET_NAME,
    outputs.UPLOAD_PREFIX,
    outputs.RESULTS_PREFIX,
    outputs.RESULTS_TABLE_NAME,
    outputs.QUEUE_URL,
)
CLIENT_CONFIG = Config(retries={"total_max_attempts": 5, "mode": "standard"}, max_pool_connections=32)


@dataclass
class LocalRun:
    """The emulated stack of this command, and how to run its Lambda workers."""

    stack: LocalStack
    spec: StackSpec
    environment: dict[str, str]  # the function's environment, pointed at the emulators
    options: LocalOptions
    snapshot: Path

    @property
    def fingerprint(self) -> str:
        """The settings fingerprint the local Lambda's analyses are made under."""
        return analysis_fingerprint(Settings.from_env(self.environment))

    def save(self) -> None:
        """moto keeps state in memory: write it to the snapshot the next command restores."""
        from .local import emulator

        emulator.save(self.stack, self.snapshot)

    @contextmanager
    def workers(self) -> Iterator[None]:
        from .local.runner import running_workers, worker_count

        count = worker_count(self.spec, self.options.workers)
        with running_workers(count, self.environment, self.stack, self.spec, self.options):
            yield


@dataclass
class VectorTarget:
    """Where `imgpipe search` finds the image embeddings, and how it embeds a phrase like the function."""

    bucket: str
    index: str
    s3vectors: Any  # an s3vectors client
    bedrock: Any  # a bedrock-runtime client for the embedding model (None: it cannot be called)
    model_id: str | None  # the function's embedding model (None: unknown)
    why_no_model: str = ""  # when bedrock is None: why


@dataclass
class Target:
    name: str  # for messages: "stack ImagePipeline (eu-west-1)" or "local stack in .imgpipe"
    bucket: str
    table: str
    queue_url: str
    dead_letter_queue_url: str | None
    layout: KeyLayout
    s3: Any
    sqs: Any
    dynamodb: Any
    local: LocalRun | None = field(default=None, repr=False)
    people_collection: str | None = None  # the Rekognition collection, when the people analysis is on
    # Per analysis, the fingerprint of the function's settings (None: a stack deployed before them)
    analysis_fingerprints: dict[str, str] | None = None
    rekognition: Any = None  # a client for it (people commands)
    vectors: VectorTarget | None = None  # the embeddings' S3 Vectors index, when embeddings are on

    @property
    def settings(self) -> Settings:
        """Enough settings to read results (the deployed function's own settings are not needed)."""
        return Settings(
            results_table=self.table,
            input_prefix=self.layout.input_prefix,
            output_prefix=self.layout.output_prefix,
            enable_embeddings=False,  # reading results needs no vector index
        )

    def queue_depth(self, url: str) -> int:
        """Messages waiting plus in flight."""
        return queue_depth(self.sqs, url)

    @contextmanager
    def processing(self) -> Iterator[None]:
        """Locally, run the Lambda workers meanwhile; a deployed stack has its own Lambda."""
        if self.local is None:
            yield
        else:
            with self.local.workers():
                yield


def add_target_options(parser: argparse.ArgumentParser, *, pipeline: bool = False) -> None:
    """--stack/--region/--profile for a deployed stack; --state-dir (and, with `pipeline`, the local
    Lambda's options) for the local one."""
    where = parser.add_argument_group("which stack (default: the local emulated one)")
    where.add_argument(
        "--stack",
        metavar="NAME",
        help=f"a deployed stack, by CloudFormation name (this repo deploys {outputs.STACK_NAME!r})",
    )
    where.add_argument("--region", help="the deployed stack's region (default: your AWS configuration's)")
    where.add_argument("--profile", help="AWS profile for the deployed stack (default: AWS_PROFILE)")
    where.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="the local stack's state directory (default: .imgpipe)",
    )
    if pipeline:
        add_pipeline_options(parser.add_argument_group("the local stack's Lambda"))


def add_pipeline_options(parser: Any) -> None:
    """Options of the local Lambda workers (shared with `imgpipe local` and `demo`)."""
    parser.add_argument(
        "--workers",
        type=whole_number(1, MAX_WORKERS),
        help="concurrent Lambda workers (default: the stack's maximum concurrency, at most 4)",
    )
    ai = parser.add_mutually_exclusive_group()
    ai.add_argument(
        "--aws-ai",
        action="store_true",
        help="call Amazon Bedrock and Rekognition for real (needs AWS credentials); "
        "without it or --simulated-ai they are not called and recorded as skipped",
    )
    ai.add_argument(
        "--simulated-ai",
        action="store_true",
        help="let imgpipe's simulated AI services answer instead (labels, text and boxes computed from "
        "pixel colours, no AWS account): every such result is marked SIMULATED",
    )
    parser.add_argument(
        "--retry-delay",
        type=whole_number(1, 900),
        default=2,
        help="seconds a failed message stays invisible before it is retried (AWS uses the "
        "queue's visibility timeout; locally it is short so runs finish)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(0, 86_400),
        default=900.0,
        help="give up waiting for the analyses after this many seconds (default: 900)",
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a CDK context value for this run, e.g. labels_min_confidence=90",
    )


def simulated(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "simulated_ai", False))


def parse_context(items: list[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            context[key] = json.loads(value)
        except json.JSONDecodeError:
            context[key] = value
    return context


@contextmanager
def open_target(
    args: argparse.Namespace, status: Console, *, creates: bool = False, saves: bool = False
) -> Iterator[Target]:
    """The target the arguments name. Locally, `saves` writes the snapshot back when the command
    returns normally (moto keeps state in memory), and `creates` allows a state dir with no stack yet."""
    if args.stack:
        if getattr(args, "context", None) or getattr(args, "aws_ai", False) or simulated(args):
            raise TargetError(
                "--context, --aws-ai and --simulated-ai apply to the local stack; a deployed stack has "
                "its own configuration and calls Bedrock and Rekognition"
            )
        yield deployed(args.stack, args.region, args.profile)
        return
    with _local(args, status, creates=creates, saves=saves) as target:
        yield target


def deployed(name: str, region: str | None, profile: str | None) -> Target:
    """The stack's resources from its CloudFormation outputs."""
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        region = session.region_name
        if not region:
            raise TargetError("No AWS region: pass --region or set AWS_REGION (or a region in your profile).")
        cloudformation = session.client("cloudformation", config=CLIENT_CONFIG)
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise TargetError(
                f"No stack named {name} in {region}. Deploy it with `make deploy`, or pass the "
                f"region it is in (--region) and its name ({outputs.STACK_NAME} unless renamed)."
            ) from exc
        raise from_aws(exc) from exc
    except BotoCoreError as exc:
        raise from_aws(exc) from exc
    found = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in found]
    if missing:
        raise TargetError(
            f"Stack {name} in {region} ({stack.get('StackStatus')}) lacks the outputs "
            f"{', '.join(missing)}: is it an imgpipe stack, and has its deployment finished?"
        )
    return Target(
        name=f"stack {name} ({region})",
        bucket=found[outputs.BUCKET_NAME],
        table=found[outputs.RESULTS_TABLE_NAME],
        queue_url=found[outputs.QUEUE_URL],
        dead_letter_queue_url=found.get(outputs.DEAD_LETTER_QUEUE_URL),
        layout=KeyLayout(found[outputs.UPLOAD_PREFIX], found[outputs.RESULTS_PREFIX]),
        **_clients(session),
        people_collection=found.get(outputs.PEOPLE_COLLECTION_ID),
        analysis_fingerprints=_fingerprints_output(found.get(outputs.ANALYSIS_FINGERPRINTS)),
        rekognition=session.client("rekognition", config=CLIENT_CONFIG),
        vectors=_deployed_vectors(session, found),
    )


def _deployed_vectors(session: boto3.session.Session, found: dict[str, str]) -> VectorTarget | None:
    if outputs.VECTOR_BUCKET_NAME not in found or outputs.VECTOR_INDEX_NAME not in found:
        return None
    return VectorTarget(
        bucket=found[outputs.VECTOR_BUCKET_NAME],
        index=found[outputs.VECTOR_INDEX_NAME],
        s3vectors=session.client("s3vectors", config=CLIENT_CONFIG),
        bedrock=session.client("bedrock-runtime", config=CLIENT_CONFIG),
        model_id=found.get(outputs.EMBEDDING_MODEL_ID),
    )


def _fingerprints_output(value: str | None) -> dict[str, str] | None:
    try:
        parsed = json.loads(value) if value else None
    except ValueError:
        return None
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else None


def _clients(session: boto3.session.Session, endpoint_url: str | None = None) -> dict[str, Any]:
    # A pool large enough for parallel transfers (botocore's default is 10 connections).
    return {
        name: session.client(name, endpoint_url=endpoint_url, config=CLIENT_CONFIG)
        for name in ("s3", "sqs", "dynamodb")
    }


@contextmanager
def _local(args: argparse.Namespace, status: Console, *, creates: bool, saves: bool) -> Iterator[Target]:
    from .local.runner import LocalOptions
    from .local.synth import last_context

    state_dir: Path = args.state_dir
    if not creates and not (state_dir / "snapshot" / "objects.json").exists():
        raise TargetError(
            f"No local stack in {state_dir}/ yet: upload images first (`imgpipe upload DIR`), or pass "
            f"--stack NAME for a deployed stack."
        )
    options = LocalOptions(
        paths=[],
        state_dir=state_dir,
        workers=getattr(args, "workers", None),
        use_aws_ai=bool(getattr(args, "aws_ai", False)),
        simulated_ai=simulated(args),
        retry_delay=getattr(args, "retry_delay", 2),
        timeout_s=getattr(args, "timeout", 900.0),
        # Commands that only read reuse the stack the snapshot was made with.
        context=parse_context(args.context)
        if hasattr(args, "context")
        else last_context(state_dir / "cdk.out"),
    )
    with local_target(options, status, saves=saves) as target:
        yield target


def _local_vectors(
    spec: StackSpec, stack: LocalStack, environment: dict[str, str], options: LocalOptions
) -> VectorTarget | None:
    """The local S3 Vectors index; phrases are embedded where the function's embeddings go: the
    simulated services with --simulated-ai, Bedrock with --aws-ai, nowhere otherwise."""
    from .local.emulator import FAKE_KEY, vectors_client

    index, client = spec.vector_index, vectors_client(stack)
    if index is None or client is None:
        return None
    region = environment["AWS_DEFAULT_REGION"]
    bedrock = None
    if options.simulated_ai:  # on loopback: any credentials pass, and a newcomer's machine has none
        bedrock = boto3.client(
            "bedrock-runtime",
            endpoint_url=environment.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"),
            region_name=region,
            aws_access_key_id=FAKE_KEY,
            aws_secret_access_key=FAKE_KEY,
            config=CLIENT_CONFIG,
        )
    elif options.use_aws_ai:
        bedrock = boto3.client("bedrock-runtime", region_name=region, config=CLIENT_CONFIG)
    return VectorTarget(
        bucket=index.bucket,
        index=index.index,
        s3vectors=client,
        bedrock=bedrock,
        model_id=Settings.from_env(environment).embedding_model_id,
        why_no_model=""
        if bedrock
        else "the local stack calls no embedding model without --simulated-ai or --aws-ai",
    )


@contextmanager
def local_target(options: LocalOptions, status: Console, *, saves: bool) -> Iterator[Target]:
    """The emulated stack of `options.state_dir`, restored from its snapshot. With `saves`, the snapshot
    is written back when the block ends, also on an error or Ctrl-C: what finished is kept."""
    from .local import emulator
    from .local.runner import (
        SIMULATED_BANNER,
        ensure_people_collection,
        function_environment,
        people_collection,
        simulated_ai_services,
    )
    from .local.stackspec import LOCAL_REGION, StackSpec
    from .local.synth import synthesize

    state_dir, snapshot, use_aws_ai = options.state_dir, options.state_dir / "snapshot", options.use_aws_ai
    if use_aws_ai and boto3.Session().get_credentials() is None:
        raise TargetError("--aws-ai needs AWS credentials (environment, profile or SSO); none were found.")
    status.print(f"Local stack in {state_dir}/ (emulated S3, SQS and DynamoDB).", highlight=False)
    if options.simulated_ai:
        status.print(SIMULATED_BANNER, highlight=False)
    spec = StackSpec.load(synthesize(state_dir / "cdk.out", options.context))
    with (
        emulator.running_stack(spec, snapshot, port=options.port) as stack,
        simulated_ai_services(options.simulated_ai) as ai_endpoints,
    ):
        # Configuring the notifications queued an s3:TestEvent (as S3 does); the queues are otherwise
        # empty when a run starts (their contents are not part of the snapshot), so nothing else goes.
        stack.sqs.purge_queue(QueueUrl=stack.queue_url)
        environment = function_environment(spec, stack, use_aws_ai, ai_endpoints)
        settings = Settings.from_env(environment)
        ensure_people_collection(spec, stack, use_aws_ai, ai_endpoints)
        target = Target(
            name=f"local stack in {state_dir}/",
            bucket=stack.bucket,
            table=stack.table,
            queue_url=stack.queue_url,
            dead_letter_queue_url=stack.dead_letter_queue_url,
            layout=KeyLayout(settings.input_prefix, settings.output_prefix),
            **_clients(
                boto3.session.Session(
                    aws_access_key_id=emulator.FAKE_KEY,
                    aws_secret_access_key=emulator.FAKE_KEY,
                    region_name=LOCAL_REGION,
                ),
                endpoint_url=stack.endpoint,
            ),
            local=LocalRun(
                stack=stack, spec=spec, environment=environment, options=options, snapshot=snapshot
            ),
            # Rekognition is AWS's (or the simulated services', through AWS_ENDPOINT_URL_REKOGNITION).
            people_collection=people_collection(spec, stack),
            analysis_fingerprints=analysis_fingerprints(settings),
            # The function's region (the user's with --aws-ai, else the local one): a machine with no
            # AWS configuration at all must still run the demo.
            rekognition=boto3.client(
                "rekognition", region_name=environment["AWS_DEFAULT_REGION"], config=CLIENT_CONFIG
            ),
            vectors=_local_vectors(spec, stack, environment, options),
        )
        try:
            yield target
        finally:
            if saves:
                emulator.save(stack, snapshot)
