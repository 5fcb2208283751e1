"""Synthesizing the CDK app for tests, and reading what it made: policy statements, flattened values, cfn-lint."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import PROJECT_ROOT

# Before aws_cdk starts jsii (as app.py does): no Node banner, jsii's cache inside the project.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(PROJECT_ROOT / ".cache" / "jsii"))

from aws_cdk import App, CfnElement, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct

import app as entry
from infra.outputs import STACK_NAME

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass
class Synth:
    app: App
    stack: Stack
    template: Template
    outdir: Path

    @property
    def json(self) -> dict[str, Any]:
        return dict(self.template.to_json())

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for every resource of CloudFormation type `kind`."""
        return {rid: r for rid, r in self.json["Resources"].items() if r["Type"] == kind}

    def only(self, kind: str) -> tuple[str, dict[str, Any]]:
        found = list(self.resources(kind).items())
        assert len(found) == 1, f"expected one {kind}, found {[rid for rid, _ in found]}"
        return found[0]

    def logical_id(self, path: str) -> str:
        """The logical id of the resource at construct path `path` below the stack, e.g. "Storage/Images"."""
        construct: IConstruct = self.stack
        for part in path.split("/"):
            construct = construct.node.find_child(part)
        element = construct if CfnElement.is_cfn_element(construct) else construct.node.default_child
        assert isinstance(element, CfnElement), f"{path} is not a CloudFormation resource"
        return self.stack.get_logical_id(element)


def synth(outdir: Path, context: dict[str, Any] | None = None, *, bundling: bool = False) -> Synth:
    """Synthesize app.py's app with cdk.json's context plus `context`; raises on cdk-nag findings."""
    merged = {**cdk_json_context(), **(context or {}), **({} if bundling else NO_BUNDLING)}
    app = App(outdir=str(outdir), context=merged)
    stack = entry.build(app)
    assembly = app.synth()  # runs the validation plugins (cdk-nag): raises on any finding
    template = Template.from_json(assembly.get_stack_by_name(STACK_NAME).template)
    return Synth(app=app, stack=stack, template=template, outdir=outdir)


def flatten(value: Any) -> str:
    """A resolved CloudFormation value as one string (Refs and GetAtts as <Id> / <Id.Attr>)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(flatten(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in document.get("Statement", [])]


def every_policy_document(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, document) for every identity and resource policy in the template."""
    keys = {
        "AWS::IAM::Policy": "PolicyDocument",
        "AWS::IAM::ManagedPolicy": "PolicyDocument",
        "AWS::S3::BucketPolicy": "PolicyDocument",
        "AWS::SQS::QueuePolicy": "PolicyDocument",
        "AWS::SNS::TopicPolicy": "PolicyDocument",
        "AWS::KMS::Key": "KeyPolicy",
    }
    for rid, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in keys and keys[resource["Type"]] in props:
            yield rid, props[keys[resource["Type"]]]
        if resource["Type"] == "AWS::IAM::Role":
            yield f"{rid}.AssumeRolePolicyDocument", props["AssumeRolePolicyDocument"]
            for inline in props.get("Policies", []):
                yield rid, inline["PolicyDocument"]


def denies_insecure_transport(document: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements(document)
    )


# W3005 (a DependsOn already implied by a Ref/GetAtt) is emitted by CDK itself for the function's
# role and its bucket-notification resources; the redundancy is harmless and not ours to remove.
CFN_LINT_IGNORED = ("W3005",)


CFN_LINT_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def cfn_lint(template: dict[str, Any], outdir: Path) -> list[str]:
    """cfn-lint's findings (errors and warnings) for `template`, as readable lines."""
    from cfnlint.api import ManualArgs, lint_file

    path = outdir / "linted.template.json"
    path.write_text(json.dumps(template, indent=1))
    config = ManualArgs(regions=list(CFN_LINT_REGIONS), ignore_checks=list(CFN_LINT_IGNORED))
    return [f"{m.rule.id} {m.message} ({m.path_string})" for m in lint_file(path, config)]
