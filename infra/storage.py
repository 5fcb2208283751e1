"""Storage: the image bucket, its access-log bucket, and the results table.

The table's keys, indexes and TTL attribute come from `image_analysis.domain.table`, the module the Lambda
writes with, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from image_analysis.domain import table as design

from .config import StackConfig

NONCURRENT_VERSION_DAYS: Final = 30  # how long an overwritten or deleted image stays recoverable
ACCESS_LOG_PREFIX: Final = "images-bucket/"


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.access_logs = self._bucket(
            "AccessLogs",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-logs", expiration=Duration.days(config.log_retention_days))
            ],
        )
        self.bucket = self._bucket(
            "Images",
            # Versioning lets an overwritten or deleted image be recovered for a while; the
            # lifecycle rule bounds what that costs.
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        self._refuse_kms_encrypted_uploads(self.bucket)
        self.table = self._table()

    @property
    def _removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.DESTROY if self._config.destroy else RemovalPolicy.RETAIN

    @staticmethod
    def _refuse_kms_encrypted_uploads(bucket: s3.Bucket) -> None:
        """The function reads images with no KMS permission (SSE-S3 needs none). An upload asking for
        SSE-KMS may name any key, one the function may not use, and the image would then fail in the
        pipeline, retried to the DLQ; refused here, the uploader gets AccessDenied at once instead. SSE-C
        is blocked on every bucket (`_bucket`): the function never has the customer's key."""
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyKmsEncryptedUploads",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "aws:kms:dsse"]}},
            )
        )

    def _bucket(self, construct_id: str, **props: Any) -> s3.Bucket:
        """A private bucket: no public access, TLS 1.2+ only, encrypted, owner owns every object."""
        return s3.Bucket(
            self,
            construct_id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # SSE-S3: server access logs can only be delivered to an SSE-S3 bucket, and the images
            # bucket then needs no KMS permissions for readers.
            encryption=s3.BucketEncryption.S3_MANAGED,
            blocked_encryption_types=[s3.BlockedEncryptionType.SSE_C],
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=self._removal_policy,
            auto_delete_objects=self._config.destroy,
            **props,
        )

    def _table(self) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Results",
            partition_key=_string(design.PK),
            sort_key=_string(design.SK),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            # A KMS key in the account (aws/dynamodb) so key use shows in CloudTrail; no key to manage.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=design.TTL_ATTRIBUTE,
            deletion_protection=not self._config.destroy,
            removal_policy=self._removal_policy,
        )
        for index in design.INDEXES:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string(index.partition_key),
                sort_key=_string(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
