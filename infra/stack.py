"""The image pipeline stack: composes the constructs and publishes the outputs the CLI reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_cdk import Aws, CfnOutput, CfnRule, CfnRuleAssertion, Duration, Fn, Stack, Tags, Token
from constructs import Construct
from image_analysis.fingerprints import analysis_fingerprints

from . import outputs
from .config import PipelineConfig
from .monitoring import Monitoring
from .people import People
from .processing import Processing
from .regions import (
    APIS,
    COMPREHEND_APIS,
    COMPREHEND_REGIONS,
    REKOGNITION_IMAGE_REGIONS,
    check_comprehend_region,
    check_embedding_region,
    check_region,
    embedding_regions,
    supported_regions_text,
)
from .storage import Storage
from .trigger import Trigger
from .vectors import Vectors


class ImagePipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description="imgpipe: S3 -> SQS -> Lambda -> Bedrock + Rekognition", **kwargs
        )
        self._require_region(
            "RekognitionRegion",
            REKOGNITION_IMAGE_REGIONS,
            check_region,
            f"This Region does not offer {APIS}; deploy to one of: {supported_regions_text()}",
        )
        if config.settings.enable_comprehension:
            self._require_region(
                "ComprehendRegion",
                COMPREHEND_REGIONS,
                check_comprehend_region,
                f"This Region does not offer {COMPREHEND_APIS}; deploy to one of: "
                f"{', '.join(COMPREHEND_REGIONS)}, or set enable_comprehension to false",
            )
        if config.settings.enable_embeddings:
            model_id = config.settings.embedding_model_id
            self._require_region(
                "EmbeddingsRegion",
                embedding_regions(model_id),
                lambda region: check_embedding_region(region, model_id),
                f"This Region does not offer Amazon S3 Vectors or the embedding model {model_id}; deploy "
                f"to one of: {', '.join(embedding_regions(model_id))}, or set enable_embeddings to false",
            )
        Tags.of(self).add("project", "imgpipe")  # lets Cost Explorer show what the pipeline costs
        settings = config.settings
        storage = Storage(self, "Storage", config=config.stack)
        trigger = Trigger(
            self,
            "Trigger",
            bucket=storage.bucket,
            input_prefix=settings.input_prefix,
            function_timeout=Duration.seconds(config.stack.timeout_s),
        )
        people = People(self, "People", config=config.stack) if settings.enable_people else None
        vectors = (
            Vectors(self, "Vectors", config=config.stack, dimension=settings.embedding_dimension)
            if settings.enable_embeddings
            else None
        )
        processing = Processing(
            self,
            "Processing",
            config=config,
            bucket=storage.bucket,
            table=storage.table,
            queue=trigger.queue,
            people=people,
            vectors=vectors,
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            config=config.stack,
            function=processing.function,
            queue=trigger.queue,
            dead_letter_queue=trigger.dead_letter_queue,
        )
        dashboard_url = (
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards/dashboard/{monitoring.dashboard.dashboard_name}"
        )
        values = {
            outputs.BUCKET_NAME: storage.bucket.bucket_name,
            outputs.UPLOAD_PREFIX: settings.input_prefix,
            outputs.RESULTS_PREFIX: settings.output_prefix,
            outputs.RESULTS_TABLE_NAME: storage.table.table_name,
            outputs.QUEUE_URL: trigger.queue.queue_url,
            outputs.DEAD_LETTER_QUEUE_URL: trigger.dead_letter_queue.queue_url,
            outputs.FUNCTION_NAME: processing.function.function_name,
            outputs.DASHBOARD_URL: dashboard_url,
            outputs.ALARM_TOPIC_ARN: monitoring.topic.topic_arn,
            outputs.ANALYSIS_FINGERPRINTS: json.dumps(analysis_fingerprints(settings), sort_keys=True),
        }
        if people is not None:
            values[outputs.PEOPLE_COLLECTION_ID] = people.collection_id
        if vectors is not None:
            values[outputs.VECTOR_BUCKET_NAME] = vectors.bucket_name
            values[outputs.VECTOR_INDEX_NAME] = vectors.index_name
            values[outputs.EMBEDDING_MODEL_ID] = settings.embedding_model_id
        for key, value in values.items():
            # Created on the stack itself so each output's key is exactly its construct id.
            CfnOutput(self, key, value=value, description=outputs.DESCRIPTIONS[key])

    def _require_region(
        self, rule_id: str, regions: tuple[str, ...], check: Callable[[str], None], description: str
    ) -> None:
        """Refuse a Region without an API the function calls (infra/regions.py).

        With a concrete Region (CDK_DEFAULT_REGION) the synth fails with UnsupportedRegionError. An
        environment-agnostic synth does not know the Region, so the template carries the same check
        as a CloudFormation rule, which fails the deploy before any resource is created.
        """
        if not Token.is_unresolved(self.region):
            check(self.region)
            return
        CfnRule(
            self,
            rule_id,
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(list(regions), Aws.REGION), assert_description=description
                )
            ],
        )
