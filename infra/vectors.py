"""Vectors: the S3 Vectors bucket and index that hold one embedding per image (only while
ENABLE_EMBEDDINGS is on), for `imgpipe search`.

The index's shape (dimension, cosine distance, float32) and its non-filterable metadata come from the
settings and `image_analysis.domain.vectors`, the module the function writes with. Encrypted like the
image bucket (SSE-S3: AES256), and kept or deleted with the stack's removal policy like the table.
"""

from __future__ import annotations

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_s3vectors as s3vectors
from constructs import Construct
from image_analysis.domain import vectors as design

from .config import StackConfig

SSE_S3: str = "AES256"  # S3 Vectors' name for SSE-S3 (the other choice is aws:kms)


class Vectors(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, dimension: int) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.DESTROY if config.destroy else RemovalPolicy.RETAIN
        # No name: CloudFormation generates one unique in the account and Region, so a retained bucket
        # never blocks a new deployment of the stack.
        self.bucket = s3vectors.CfnVectorBucket(
            self,
            "Bucket",
            encryption_configuration=s3vectors.CfnVectorBucket.EncryptionConfigurationProperty(
                sse_type=SSE_S3
            ),
        )
        self.bucket.apply_removal_policy(removal)
        self.index = s3vectors.CfnIndex(
            self,
            "Index",
            vector_bucket_arn=self.bucket.attr_vector_bucket_arn,
            index_name=design.INDEX_NAME,
            dimension=dimension,
            distance_metric=design.DISTANCE_METRIC,
            data_type=design.DATA_TYPE,
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=list(design.NON_FILTERABLE_METADATA)
            ),
        )
        self.index.apply_removal_policy(removal)

    @property
    def bucket_name(self) -> str:
        """The generated name, from the bucket's ARN (arn:…:s3vectors:region:account:bucket/NAME)."""
        return Fn.select(1, Fn.split("/", self.bucket.attr_vector_bucket_arn))

    @property
    def index_name(self) -> str:
        return design.INDEX_NAME

    @property
    def index_arn(self) -> str:
        return self.index.attr_index_arn
