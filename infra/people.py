"""People: the Rekognition collection the people analysis indexes faces into (only while
ENABLE_PEOPLE is on). It holds biometric data (a feature vector per face), so it is created only
when asked for, follows the stack's removal policy like the table beside it, and only the function
(IndexFaces, DeleteFaces) and the operator's CLI reach it."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_rekognition as rekognition
from constructs import Construct

from .config import StackConfig


class People(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        # Collection ids are unique per account and Region, as stack names are.
        self.collection = rekognition.CfnCollection(
            self, "Collection", collection_id=f"{Aws.STACK_NAME}-people"
        )
        self.collection.apply_removal_policy(
            RemovalPolicy.DESTROY if config.destroy else RemovalPolicy.RETAIN
        )

    @property
    def collection_id(self) -> str:
        return self.collection.ref  # Ref of AWS::Rekognition::Collection is its CollectionId

    @property
    def collection_arn(self) -> str:
        return self.collection.attr_arn
