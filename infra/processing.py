"""Processing: the analysis function, its log group, its SQS event source and its permissions.

Permissions are least privilege: one IAM policy per service, every statement scoped to what the
Lambda does and justified where it is granted. No statement uses a wildcard action.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from image_analysis.domain import telemetry
from image_analysis.settings import Settings

from .bundling import HANDLER, function_code
from .config import LOG_RETENTION_DAYS, PipelineConfig
from .nag import acknowledge, acknowledge_wildcard_resources
from .people import People
from .vectors import Vectors

RUNTIME: Final = lambda_.Runtime.PYTHON_3_13  # keep in step with wheelhouse.PYTHON_VERSION
# System inference profile ids start with a geography ("global.anthropic.claude-…"); a profile
# routes each request to a foundation model in one of the geography's regions.
GEO_PREFIXES: Final = ("global", "us", "us-gov", "eu", "apac", "jp", "au", "ca")
REKOGNITION_ACTIONS: Final = (
    "rekognition:DetectLabels",
    "rekognition:DetectText",
    "rekognition:DetectModerationLabels",
)
FACE_DETECTION_ACTION: Final = "rekognition:DetectFaces"  # granted only while ENABLE_FACES is on
PEOPLE_ACTIONS: Final = ("rekognition:IndexFaces", "rekognition:DeleteFaces")  # while ENABLE_PEOPLE is on
COMPREHEND_ACTIONS: Final = tuple(
    f"comprehend:{action}"
    for action in ("DetectDominantLanguage", "DetectEntities", "DetectKeyPhrases", "DetectPiiEntities")
)  # granted only while ENABLE_COMPREHENSION is on
# On the stack's one index, only while ENABLE_EMBEDDINGS is on: write an image's vector, read one back
# (identical bytes copy it; a refresh keeps it) and delete it with the image. The function never
# searches: QueryVectors is the operator's (`imgpipe search`). Each takes the index ARN as its
# resource (Service Authorization Reference, Amazon S3 Vectors).
VECTOR_ACTIONS: Final = tuple(
    f"s3vectors:{action}" for action in ("PutVectors", "GetVectors", "DeleteVectors")
)
# Item-level actions only: TransactWriteItems (result + label items in one transaction) is
# authorised per contained PutItem/UpdateItem/DeleteItem/ConditionCheckItem, so it needs no action
# of its own; no Scan, no table-management action.
TABLE_ACTIONS: Final = tuple(
    f"dynamodb:{action}"
    for action in (
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem", "ConditionCheckItem",
    )
)  # fmt: skip


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        bucket: s3.Bucket,
        table: dynamodb.Table,
        queue: sqs.Queue,
        people: People | None = None,
        vectors: Vectors | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack_config = config.stack
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays[LOG_RETENTION_DAYS[stack_config.log_retention_days]],
            removal_policy=RemovalPolicy.DESTROY if stack_config.destroy else RemovalPolicy.RETAIN,
        )
        # Our own role (not the one Function would create) so it carries no AWS managed policy.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Image analysis: reads images, writes results, calls Bedrock and Rekognition",
        )
        self.settings = config.lambda_settings(
            results_table=table.table_name,
            people_collection=people.collection_id if people else "",
            vector_bucket=vectors.bucket_name if vectors else "",
            vector_index=vectors.index_name if vectors else "",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=function_code(RUNTIME),
            memory_size=stack_config.memory_mb,
            timeout=Duration.seconds(stack_config.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            environment=function_environment(self.settings),
            description="Analyses uploaded images: Bedrock location; Rekognition labels, text, moderation",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Python 3.13 is deliberate and supported: the bundled native wheels (Pillow, pillow-heif, "
            "tzfpy, wrapt) are pinned and fetched for cp313 (infra/wheelhouse.py); moving to 3.14 "
            "changes both together.",
        )
        acknowledge(
            self.role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing (added by Lambda's Tracing.ACTIVE): xray:PutTraceSegments and "
            "xray:PutTelemetryRecords do not support resource-level permissions.",
        )
        self._grant(bucket, table, queue)
        if people is not None:
            self._policy(
                "People",
                # Index an image's faces and delete them with it: this stack's collection only.
                iam.PolicyStatement(actions=list(PEOPLE_ACTIONS), resources=[people.collection_arn]),
            )
        if vectors is not None:
            self._grant_embeddings(vectors)
        # Partial batch responses: one bad image does not send its batch-mates back to the queue.
        # Maximum concurrency (not reserved concurrency) caps the load on Bedrock and Rekognition
        # without taking concurrency from the account, which new accounts cannot spare.
        self.function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=stack_config.batch_size,
                max_concurrency=stack_config.max_concurrency,
                report_batch_item_failures=True,
            )
        )

    def _grant(self, bucket: s3.Bucket, table: dynamodb.Table, queue: sqs.Queue) -> None:
        settings = self.settings
        self._policy(
            "Logs",
            # Its own log group only (the AWS managed basic-execution policy allows every group).
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
        )
        self._policy(
            "S3",
            # Read the images: objects under the input prefix only.
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{settings.input_prefix}*")]
            ),
            # Whether an image exists is decided by a ListObjectsV2 with the image's key as prefix
            # (S3Store.exists, adapters/s3.py), which this condition covers by definition; with it, S3
            # may also answer 404 rather than 403 to a GET of a deleted image, but S3Store does not rely
            # on that.
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{settings.input_prefix}*"]}},
            ),
            # Write the results, and delete them when their image is deleted: output prefix only.
            # DeleteObjectVersion: when a record cannot be committed, the function deletes exactly
            # the result versions it just wrote (the bucket is versioned), so the previous result
            # is current again (S3Store.undo_writes).
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[bucket.arn_for_objects(f"{settings.output_prefix}*")],
            ),
            wildcard_reason="Object ARNs are scoped to one key prefix (input: read; output: write/delete); "
            "a prefix is the narrowest grant for keys that are not known in advance.",
        )
        stack = Stack.of(self)
        model_arns = bedrock_model_arns(
            settings.bedrock_model_id, partition=stack.partition, region=stack.region, account=stack.account
        )
        self._policy(
            "Bedrock",
            # Invoke the configured model only (the profile, and the models it routes to).
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=model_arns),
            wildcard_reason="A cross-region inference profile routes each request to the same foundation "
            "model in any region of its geography, so the model ARN's region is '*'; the model is fixed.",
        )
        detect = [*REKOGNITION_ACTIONS, *([FACE_DETECTION_ACTION] if settings.enable_faces else [])]
        self._policy(
            "Rekognition",
            # Labels, text, moderation and faces on image bytes: stateless, nothing stored.
            iam.PolicyStatement(actions=detect, resources=["*"]),
            wildcard_reason="Rekognition's Detect* image operations do not support resource-level "
            "permissions; Resource must be '*'. The actions are the ones the function calls.",
        )
        if settings.enable_comprehension:
            self._policy(
                "Comprehend",
                # Language, entities, key phrases and PII of the detected text, with the built-in models.
                iam.PolicyStatement(actions=list(COMPREHEND_ACTIONS), resources=["*"]),
                wildcard_reason="Comprehend's Detect* operations on the built-in models act on no resource "
                "(only custom endpoints have ARNs); Resource must be '*'. The actions are the four it calls.",
            )
        self._policy(
            "Table",
            # Read and write the function's own records, on its own table only (no index is queried).
            iam.PolicyStatement(actions=list(TABLE_ACTIONS), resources=[table.table_arn]),
        )
        self._policy(
            "Queue",
            # Send a fresh copy of a record an invocation had no time to start (batch.py), so deferring
            # it spends none of its receives; its own queue only. Receiving, deleting and changing
            # visibility come with the event source's grant.
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
        )

    def _grant_embeddings(self, vectors: Vectors) -> None:
        """Embed each image with the configured model, and keep its vector in the stack's index."""
        stack = Stack.of(self)
        model_arns = bedrock_model_arns(
            self.settings.embedding_model_id,
            partition=stack.partition,
            region=stack.region,
            account=stack.account,
        )
        self._policy(
            "Embedding",
            # The embedding model only (a foundation model id is one ARN in this Region).
            iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=model_arns),
            wildcard_reason="An inference profile routes each request to the same foundation model in "
            "any region of its geography, so the model ARN's region is '*'; the model is fixed.",
        )
        self._policy(
            "Vectors",
            # This stack's one index only: not the bucket, not another index.
            iam.PolicyStatement(actions=list(VECTOR_ACTIONS), resources=[vectors.index_arn]),
        )

    def _policy(
        self, name: str, *statements: iam.PolicyStatement, wildcard_reason: str | None = None
    ) -> None:
        policy = iam.Policy(self, f"{name}Policy", statements=list(statements), roles=[self.role])
        # Without this, the event source could deliver a first batch before the grants exist.
        self.function.node.add_dependency(policy)
        if wildcard_reason:
            acknowledge_wildcard_resources(policy, list(statements), wildcard_reason)


def function_environment(settings: Settings) -> dict[str, str]:
    """Every Settings variable, plus where Powertools publishes the metrics the alarms watch."""
    return {
        **settings.to_env(),
        "POWERTOOLS_SERVICE_NAME": telemetry.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": telemetry.METRICS_NAMESPACE,
    }


def bedrock_model_arns(model_id: str, *, partition: str, region: str, account: str) -> list[str]:
    """What bedrock:InvokeModel must allow for `model_id`.

    A foundation model id is one ARN in this region. A system inference profile id (geo prefix) needs
    the profile in this region plus the foundation model in every region the profile may route to;
    a `global.` profile also routes to the region-less foundation-model ARN.
    """
    geo, _, base = model_id.partition(".")
    if geo not in GEO_PREFIXES or not base:
        return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"]
    arns = [
        f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}",
        f"arn:{partition}:bedrock:*::foundation-model/{base}",
    ]
    if geo == "global":
        arns.append(f"arn:{partition}:bedrock:::foundation-model/{base}")
    return arns
