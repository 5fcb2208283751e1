"""The outputs the CLI reads: stable keys (constants in infra.outputs) with the right values."""

from __future__ import annotations

import json

from image_analysis.fingerprints import analysis_fingerprints
from image_analysis.settings import Settings

from infra import outputs
from tests.infra.templates import Synth, flatten

KEYS = (
    outputs.BUCKET_NAME,
    outputs.UPLOAD_PREFIX,
    outputs.RESULTS_PREFIX,
    outputs.RESULTS_TABLE_NAME,
    outputs.QUEUE_URL,
    outputs.DEAD_LETTER_QUEUE_URL,
    outputs.FUNCTION_NAME,
    outputs.DASHBOARD_URL,
    outputs.ALARM_TOPIC_ARN,
    outputs.ANALYSIS_FINGERPRINTS,
)


def test_stack_name_and_output_keys_are_stable() -> None:
    assert outputs.STACK_NAME == "ImagePipeline"
    assert (outputs.VECTOR_BUCKET_NAME, outputs.VECTOR_INDEX_NAME, outputs.EMBEDDING_MODEL_ID) == (
        "VectorBucketName", "VectorIndexName", "EmbeddingModelId",
    )  # fmt: skip
    assert KEYS == (
        "BucketName",
        "UploadPrefix",
        "ResultsPrefix",
        "ResultsTableName",
        "QueueUrl",
        "DeadLetterQueueUrl",
        "FunctionName",
        "DashboardUrl",
        "AlarmTopicArn",
        "AnalysisFingerprints",
    )
    # those with people, and with embeddings, on
    assert set(outputs.DESCRIPTIONS) == {
        *KEYS,
        outputs.PEOPLE_COLLECTION_ID,
        outputs.VECTOR_BUCKET_NAME,
        outputs.VECTOR_INDEX_NAME,
        outputs.EMBEDDING_MODEL_ID,
    }


def test_every_output_is_in_the_template_with_its_description(default: Synth) -> None:
    assert default.stack.stack_name == outputs.STACK_NAME
    template_outputs = default.json["Outputs"]
    # cdk.json switches embeddings on: their index and model are outputs too (imgpipe search --stack)
    embedding = (outputs.VECTOR_BUCKET_NAME, outputs.VECTOR_INDEX_NAME, outputs.EMBEDDING_MODEL_ID)
    assert set(template_outputs) == {*KEYS, *embedding}
    for key in (*KEYS, *embedding):
        assert template_outputs[key]["Description"] == outputs.DESCRIPTIONS[key]
        assert "Export" not in template_outputs[key], "exports would lock the stack against changes"


def test_outputs_point_at_the_right_resources(default: Synth) -> None:
    values = {key: flatten(o["Value"]) for key, o in default.json["Outputs"].items()}
    ref = {
        outputs.BUCKET_NAME: "Storage/Images",
        outputs.RESULTS_TABLE_NAME: "Storage/Results",
        outputs.QUEUE_URL: "Trigger/Queue",
        outputs.DEAD_LETTER_QUEUE_URL: "Trigger/DeadLetterQueue",
        outputs.FUNCTION_NAME: "Processing/Function",
        outputs.ALARM_TOPIC_ARN: "Monitoring/AlarmTopic",
    }
    for key, path in ref.items():
        assert values[key] == f"<{default.logical_id(path)}>", key
    assert values[outputs.UPLOAD_PREFIX] == "images/"
    assert values[outputs.RESULTS_PREFIX] == "results/"
    # what the function analyses under (its defaults here), per analysis, for `imgpipe backfill`
    assert json.loads(values[outputs.ANALYSIS_FINGERPRINTS]) == analysis_fingerprints(
        Settings(results_table="any", vector_bucket="any", vector_index="any")
    )
    dashboard = default.logical_id("Monitoring/Dashboard")
    assert values[outputs.DASHBOARD_URL] == (
        "https://<AWS::Region>.console.aws.amazon.com/cloudwatch/home?region=<AWS::Region>"
        f"#dashboards/dashboard/<{dashboard}>"
    )
