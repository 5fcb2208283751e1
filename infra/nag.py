"""cdk-nag acknowledgments: each on one construct, for one rule or one finding, with its reason.

cdk-nag v3 matches an acknowledgment by exact id; a wildcard finding's id embeds the flattened
resource (e.g. `AwsSolutions-IAM5[Resource::<BucketABC.Arn>/images/*]`). `wildcard_findings`
computes those ids from the policy's own statements, so the acknowledgments follow the code instead
of hard-coding logical ids that change when a construct moves.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_wildcard_resources(
    policy: iam.Policy, statements: list[iam.PolicyStatement], reason: str
) -> None:
    """Acknowledge AwsSolutions-IAM5 for each wildcard resource of `statements` on `policy` only."""
    for finding in wildcard_findings(Stack.of(policy), statements):
        acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)


def wildcard_findings(stack: Stack, statements: list[iam.PolicyStatement]) -> list[str]:
    findings: list[str] = []
    for statement in statements:
        for resource in statement.resources:
            flat = flatten(stack.resolve(resource))
            if "*" in flat:
                findings.append(f"Resource::{flat}")
    return findings


def flatten(node: Any) -> str:
    """cdk-nag's rendering of a resolved CloudFormation value (utils/flatten-cfn-reference)."""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(flatten(item) for item in items)
        if "Fn::Sub" in node:
            return flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
