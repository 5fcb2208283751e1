"""Names of the deployed stack and of its CloudFormation outputs: the contract with the CLI.

`imgpipe --stack NAME` reads these outputs through DescribeStacks, so the keys below are a public
interface: renaming one breaks every installed CLI. This module must not import aws_cdk (the CLI
imports it and must start fast).
"""

from __future__ import annotations

from typing import Final

STACK_NAME: Final = "ImagePipeline"

BUCKET_NAME: Final = "BucketName"
UPLOAD_PREFIX: Final = "UploadPrefix"
RESULTS_PREFIX: Final = "ResultsPrefix"
RESULTS_TABLE_NAME: Final = "ResultsTableName"
QUEUE_URL: Final = "QueueUrl"
DEAD_LETTER_QUEUE_URL: Final = "DeadLetterQueueUrl"
FUNCTION_NAME: Final = "FunctionName"
DASHBOARD_URL: Final = "DashboardUrl"
ALARM_TOPIC_ARN: Final = "AlarmTopicArn"
PEOPLE_COLLECTION_ID: Final = "PeopleCollectionId"  # only while enable_people is on
ANALYSIS_FINGERPRINTS: Final = "AnalysisFingerprints"
VECTOR_BUCKET_NAME: Final = "VectorBucketName"  # these two only while enable_embeddings is on
VECTOR_INDEX_NAME: Final = "VectorIndexName"
EMBEDDING_MODEL_ID: Final = "EmbeddingModelId"  # the model `imgpipe search` embeds a phrase with

# Output key -> what it holds (also the output's Description in the template).
DESCRIPTIONS: Final[dict[str, str]] = {
    BUCKET_NAME: "S3 bucket for images and results",
    UPLOAD_PREFIX: "Key prefix to upload images under (anything else in the bucket is ignored)",
    RESULTS_PREFIX: "Key prefix where the JSON and text results are written",
    RESULTS_TABLE_NAME: "DynamoDB table of analysis records",
    QUEUE_URL: "SQS queue of S3 events waiting for analysis",
    DEAD_LETTER_QUEUE_URL: "SQS dead-letter queue of events that failed repeatedly",
    FUNCTION_NAME: "Lambda function that analyses images",
    DASHBOARD_URL: "CloudWatch dashboard of throughput, latency, errors, tokens and cost",
    ALARM_TOPIC_ARN: "SNS topic the alarms notify",
    PEOPLE_COLLECTION_ID: "Rekognition collection of indexed faces (people analysis; biometric data)",
    ANALYSIS_FINGERPRINTS: "Per analysis, the fingerprint of the settings the function analyses under "
    "(JSON; `imgpipe backfill` refreshes the analyses whose fingerprint a record does not match)",
    VECTOR_BUCKET_NAME: "S3 Vectors bucket of the image embeddings (imgpipe search)",
    VECTOR_INDEX_NAME: "S3 Vectors index of the image embeddings, one vector per image key",
    EMBEDDING_MODEL_ID: "Bedrock model that embeds the images (a search phrase must use the same one)",
}
