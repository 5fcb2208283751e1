"""The AWS Regions the pipeline can run in: those offering the Rekognition image APIs it calls.

The function calls Rekognition DetectLabels, DetectText and DetectModerationLabels in the stack's own
Region (Bedrock is reached through an inference profile, which may route elsewhere). A Region without
them deploys cleanly and then fails every image, so the synth refuses it (infra/stack.py). This is
the one list; this module does not import aws_cdk.
"""

from __future__ import annotations

from typing import Final

# Source: AWS General Reference, "Amazon Rekognition endpoints and quotas" (Service endpoints table,
# and its per-Region differences: Canada (Central) offers only the face operations, so no
# DetectLabels/DetectText/DetectModerationLabels; Israel (Tel Aviv) offers all three),
# https://docs.aws.amazon.com/general/latest/gr/rekognition.html. Rekognition is not offered in the
# China Regions. Re-check that page before adding a Region.
REKOGNITION_IMAGE_REGIONS: Final = (
    "us-east-1",  # US East (N. Virginia)
    "us-east-2",  # US East (Ohio)
    "us-west-1",  # US West (N. California)
    "us-west-2",  # US West (Oregon)
    "ap-northeast-1",  # Asia Pacific (Tokyo)
    "ap-northeast-2",  # Asia Pacific (Seoul)
    "ap-south-1",  # Asia Pacific (Mumbai)
    "ap-southeast-1",  # Asia Pacific (Singapore)
    "ap-southeast-2",  # Asia Pacific (Sydney)
    "ap-southeast-5",  # Asia Pacific (Malaysia)
    "ap-southeast-7",  # Asia Pacific (Thailand)
    "eu-central-1",  # Europe (Frankfurt)
    "eu-south-2",  # Europe (Spain)
    "eu-west-1",  # Europe (Ireland)
    "eu-west-2",  # Europe (London)
    "il-central-1",  # Israel (Tel Aviv)
    "sa-east-1",  # South America (Sao Paulo)
    "us-gov-west-1",  # AWS GovCloud (US-West)
)

APIS: Final = "Amazon Rekognition DetectLabels, DetectText and DetectModerationLabels"


class UnsupportedRegionError(ValueError):
    """The stack's Region does not offer the Rekognition image APIs; the message names it."""


def supported_regions_text() -> str:
    return ", ".join(REKOGNITION_IMAGE_REGIONS)


def check_region(region: str) -> None:
    """Raise UnsupportedRegionError unless `region` offers the Rekognition image APIs."""
    if region not in REKOGNITION_IMAGE_REGIONS:
        raise UnsupportedRegionError(
            f"Region {region!r} does not offer {APIS}, which the pipeline calls in its own Region. "
            f"Deploy to one of: {supported_regions_text()} (set the Region with AWS_REGION or your "
            "profile; the CDK CLI passes it to the app as CDK_DEFAULT_REGION)."
        )


# Source: Amazon Comprehend Developer Guide, "Guidelines and quotas" (Supported Regions),
# https://docs.aws.amazon.com/comprehend/latest/dg/guidelines-and-limits.html. Text understanding
# (ENABLE_COMPREHENSION) calls Comprehend in the stack's Region, so with it on the Region must be in
# both lists.
COMPREHEND_REGIONS: Final = (
    "us-east-1", "us-east-2", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
    "us-gov-west-1",
)  # fmt: skip
COMPREHEND_APIS: Final = "Amazon Comprehend (text understanding, ENABLE_COMPREHENSION)"


def check_comprehend_region(region: str) -> None:
    """Raise UnsupportedRegionError unless `region` offers Comprehend (only while it is switched on)."""
    if region not in COMPREHEND_REGIONS:
        raise UnsupportedRegionError(
            f"Region {region!r} does not offer {COMPREHEND_APIS}. Deploy to one of: "
            f"{', '.join(r for r in REKOGNITION_IMAGE_REGIONS if r in COMPREHEND_REGIONS)}, or switch "
            "text understanding off (-c enable_comprehension=false)."
        )


# Source: the CloudFormation resource types AWS::S3Vectors::VectorBucket and AWS::S3Vectors::Index are
# registered in these Regions (cfn-lint 1.58.0's per-Region resource schemas, generated from the
# CloudFormation registry; Israel (Tel Aviv) has neither), intersected with the Rekognition list
# above. Embeddings (ENABLE_EMBEDDINGS) keep each image's vector in the stack's own S3 Vectors index,
# so with them on the Region must offer S3 Vectors. Re-check the S3 Vectors documentation's Regions
# before adding one.
S3_VECTORS_REGIONS: Final = tuple(r for r in REKOGNITION_IMAGE_REGIONS if r != "il-central-1")
S3_VECTORS_APIS: Final = "Amazon S3 Vectors (the embeddings' index, ENABLE_EMBEDDINGS)"

# Source: Amazon Bedrock User Guide, "Supported Regions and models for model copy" (Titan Multimodal
# Embeddings G1, amazon.titan-embed-image-v1: single-Region model support),
# https://docs.aws.amazon.com/bedrock/latest/userguide/copy-model-support.html. The function invokes
# the embedding model in the stack's own Region (a foundation model id names no other Region).
TITAN_MULTIMODAL_MODEL_ID: Final = "amazon.titan-embed-image-v1"
TITAN_MULTIMODAL_REGIONS: Final = (
    "us-east-1", "us-west-2", "ap-south-1", "ap-southeast-2", "ca-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "sa-east-1",
)  # fmt: skip


def embedding_regions(model_id: str) -> tuple[str, ...]:
    """The Regions where embeddings with `model_id` can run: S3 Vectors, and the model where known
    (Titan Multimodal Embeddings G1; any other model id is the operator's to check)."""
    if model_id != TITAN_MULTIMODAL_MODEL_ID:
        return S3_VECTORS_REGIONS
    return tuple(r for r in S3_VECTORS_REGIONS if r in TITAN_MULTIMODAL_REGIONS)


def check_embedding_region(region: str, model_id: str = TITAN_MULTIMODAL_MODEL_ID) -> None:
    """Raise UnsupportedRegionError unless `region` offers S3 Vectors and the embedding model (only
    while embeddings are switched on)."""
    regions = embedding_regions(model_id)
    if region not in regions:
        missing = S3_VECTORS_APIS if region not in S3_VECTORS_REGIONS else f"the embedding model {model_id}"
        raise UnsupportedRegionError(
            f"Region {region!r} does not offer {missing}. Deploy to one of: {', '.join(regions)}, or "
            "switch embeddings off (-c enable_embeddings=false)."
        )
