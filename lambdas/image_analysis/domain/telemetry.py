"""Names shared by the Lambda's metrics and the stack's alarms and dashboard (one definition)."""

SERVICE_NAME = "image-analysis"
METRICS_NAMESPACE = "ImagePipeline"

IMAGES_COMPLETE = "ImagesComplete"
IMAGES_PARTIAL = "ImagesPartial"
IMAGES_FAILED = "ImagesFailed"
IMAGES_FLAGGED = "ImagesFlagged"
IMAGES_REUSED = "ImagesReused"
DUPLICATE_DELIVERIES = "DuplicateDeliveries"
TRANSIENT_FAILURES = "TransientFailures"
RECORDS_DEFERRED = "RecordsDeferred"  # not started: too little of the invocation was left
CONFIGURATION_ERRORS = "ConfigurationErrors"
IMAGE_LATENCY = "ImageLatency"
BEDROCK_INPUT_TOKENS = "BedrockInputTokens"
BEDROCK_OUTPUT_TOKENS = "BedrockOutputTokens"
ESTIMATED_COST = "EstimatedCostUSD"
FACES_DETECTED = "FacesDetected"  # a count of faces, never who they are
IMAGES_WITH_PII = "ImagesWithPii"  # a count of images; never a type or value of what they show
COMPREHEND_UNITS = "ComprehendUnits"

ANALYSES = ("location", "labels", "text", "moderation", "faces", "comprehension", "people")


def latency_metric(analysis: str) -> str:
    """Per-analysis latency metric name, e.g. LatencyLocation."""
    return f"Latency{analysis.capitalize()}"
