"""What the local run builds, read from the synthesized CloudFormation template itself.

Prefixes, notification filters, queue timeouts and redrive, table keys and indexes, the function's
environment and timeout, and the event source's batch size all come from the template `cdk deploy`
would use, so changing the stack changes the local run with no second copy of those values here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CommandError

HANDLER = "image_analysis.handler.lambda_handler"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


class TemplateError(CommandError):
    """The template lacks something the local run needs; the message says what (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    visibility_timeout_s: int
    retention_s: int | None
    dead_letter_logical_id: str | None
    max_receive_count: int | None


@dataclass(frozen=True)
class NotificationSpec:
    queue_logical_id: str
    events: tuple[str, ...]
    prefix: str | None
    suffix: str | None


@dataclass(frozen=True)
class VectorIndexSpec:
    bucket_logical_id: str
    bucket: str  # the local vector bucket's name
    index: str
    dimension: int
    distance_metric: str
    data_type: str
    non_filterable: tuple[str, ...]


@dataclass(frozen=True)
class StackSpec:
    template: dict[str, Any]
    bucket_logical_id: str
    versioned: bool
    notifications: tuple[NotificationSpec, ...]
    queues: dict[str, QueueSpec]
    table_logical_id: str
    function_logical_id: str
    timeout_s: int
    batch_size: int
    max_concurrency: int | None
    source_queue_logical_id: str
    vector_index_logical_id: str | None = None  # the S3 Vectors index, while embeddings are on

    @classmethod
    def load(cls, path: Path) -> StackSpec:
        return cls.from_template(json.loads(path.read_text()))

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> StackSpec:
        resources = template.get("Resources", {})
        function_id = _only(resources, "AWS::Lambda::Function", lambda p: p.get("Handler") == HANDLER)
        mapping_id = _only(
            resources,
            "AWS::Lambda::EventSourceMapping",
            lambda p: _ref_id(p.get("FunctionName")) == function_id,
        )
        mapping = resources[mapping_id]["Properties"]
        notify_id = _only(resources, "Custom::S3BucketNotifications", lambda p: True)
        notify = resources[notify_id]["Properties"]
        bucket_id = _ref_id(notify["BucketName"])
        bucket = resources[bucket_id]["Properties"]
        function = resources[function_id]["Properties"]
        return cls(
            template=template,
            bucket_logical_id=bucket_id,
            versioned=bucket.get("VersioningConfiguration", {}).get("Status") == "Enabled",
            notifications=tuple(_notifications(notify)),
            queues={
                qid: _queue(qid, r["Properties"])
                for qid, r in resources.items()
                if r["Type"] == "AWS::SQS::Queue"
            },
            table_logical_id=_only(resources, "AWS::DynamoDB::Table", lambda p: True),
            function_logical_id=function_id,
            timeout_s=int(function.get("Timeout", 3)),
            batch_size=int(mapping.get("BatchSize", 10)),
            max_concurrency=(mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            source_queue_logical_id=_ref_id(mapping["EventSourceArn"]),
            vector_index_logical_id=_optional(resources, "AWS::S3Vectors::Index"),
        )

    def resource(self, logical_id: str) -> dict[str, Any]:
        return dict(self.template["Resources"][logical_id])

    @property
    def table_properties(self) -> dict[str, Any]:
        return dict(self.resource(self.table_logical_id)["Properties"])

    @property
    def vector_index(self) -> VectorIndexSpec | None:
        """The index and its bucket as the template defines them (None with embeddings off)."""
        if self.vector_index_logical_id is None:
            return None
        props = self.resource(self.vector_index_logical_id)["Properties"]
        bucket_id = _ref_id(props["VectorBucketArn"])
        return VectorIndexSpec(
            bucket_logical_id=bucket_id,
            bucket=physical_name(bucket_id),
            index=str(props["IndexName"]),
            dimension=int(props["Dimension"]),
            distance_metric=str(props["DistanceMetric"]),
            data_type=str(props["DataType"]),
            non_filterable=tuple(
                (props.get("MetadataConfiguration") or {}).get("NonFilterableMetadataKeys", [])
            ),
        )

    @property
    def function_environment(self) -> dict[str, Any]:
        props = self.resource(self.function_logical_id)["Properties"]
        return dict(props.get("Environment", {}).get("Variables", {}))


def physical_name(logical_id: str) -> str:
    """The local name of a resource: stable, lower-case and valid for S3, SQS and DynamoDB."""
    return f"imgpipe-local-{logical_id.lower()}"[:63]


def resolve(value: Any, spec: StackSpec, endpoint: str) -> str:
    """Resolve the intrinsic functions CDK writes into environment values, for local resources."""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        return _ref(value["Ref"], spec, endpoint)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return _get_att(logical_id, attribute, spec)
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(resolve(p, spec, endpoint) for p in parts)
    if isinstance(value, dict) and "Fn::Select" in value:  # e.g. the vector bucket's name from its ARN
        position, listed = value["Fn::Select"]
        if isinstance(listed, dict) and "Fn::Split" in listed:
            separator, text = listed["Fn::Split"]
            return resolve(text, spec, endpoint).split(str(separator))[int(position)]
    raise TemplateError(f"cannot resolve {json.dumps(value)} for a local run")


def arn(spec: StackSpec, logical_id: str) -> str:
    return _get_att(logical_id, "Arn", spec)


def queue_url(endpoint: str, logical_id: str) -> str:
    return f"{endpoint}/{LOCAL_ACCOUNT}/{physical_name(logical_id)}"


def _ref(name: str, spec: StackSpec, endpoint: str) -> str:
    pseudo = {
        "AWS::Region": LOCAL_REGION,
        "AWS::AccountId": LOCAL_ACCOUNT,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    if name in pseudo:
        return pseudo[name]
    kind = spec.resource(name)["Type"]
    if kind == "AWS::SQS::Queue":
        return queue_url(endpoint, name)
    return physical_name(name)


def _get_att(logical_id: str, attribute: str, spec: StackSpec) -> str:
    kind = spec.resource(logical_id)["Type"]
    name = physical_name(logical_id)
    if attribute == "Arn":
        service = {"AWS::SQS::Queue": "sqs", "AWS::DynamoDB::Table": "dynamodb", "AWS::S3::Bucket": "s3"}.get(
            kind
        )
        if service == "s3":
            return f"arn:aws:s3:::{name}"
        if service == "dynamodb":
            return f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{name}"
        if service == "sqs":
            return f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{name}"
    if attribute == "VectorBucketArn" and kind == "AWS::S3Vectors::VectorBucket":
        return f"arn:aws:s3vectors:{LOCAL_REGION}:{LOCAL_ACCOUNT}:bucket/{name}"
    if attribute == "QueueName" and kind == "AWS::SQS::Queue":
        return name
    raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} for a local run")


def _only(resources: dict[str, Any], kind: str, accept: Any) -> str:
    found = [rid for rid, r in resources.items() if r.get("Type") == kind and accept(r.get("Properties", {}))]
    if len(found) != 1:
        raise TemplateError(f"expected exactly one {kind} for the image pipeline, found {len(found)}")
    return found[0]


def _optional(resources: dict[str, Any], kind: str) -> str | None:
    found = [rid for rid, r in resources.items() if r.get("Type") == kind]
    if len(found) > 1:
        raise TemplateError(f"expected at most one {kind} for the image pipeline, found {len(found)}")
    return found[0] if found else None


def _ref_id(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise TemplateError(f"expected a Ref or Fn::GetAtt, found {json.dumps(value)}")


def _queue(logical_id: str, props: dict[str, Any]) -> QueueSpec:
    redrive = props.get("RedrivePolicy") or {}
    return QueueSpec(
        logical_id=logical_id,
        visibility_timeout_s=int(props.get("VisibilityTimeout", 30)),
        retention_s=int(props["MessageRetentionPeriod"]) if "MessageRetentionPeriod" in props else None,
        dead_letter_logical_id=_ref_id(redrive["deadLetterTargetArn"]) if redrive else None,
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
    )


def _notifications(props: dict[str, Any]) -> list[NotificationSpec]:
    configs = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    found = []
    for config in configs:
        rules = {
            r["Name"].lower(): r["Value"]
            for r in config.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        }
        found.append(
            NotificationSpec(
                queue_logical_id=_ref_id(config["QueueArn"]),
                events=tuple(config["Events"]),
                prefix=rules.get("prefix"),
                suffix=rules.get("suffix"),
            )
        )
    if not found:
        raise TemplateError("the bucket has no queue notifications")
    return found
