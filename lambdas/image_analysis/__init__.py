"""Image-analysis Lambda: S3 upload -> SQS -> analysis -> results in S3 and DynamoDB.

Layered (docs/architecture.md, "Layers"; tests/unit/test_layers.py checks it): handler -> batch ->
pipeline / removal -> analysis -> adapters/ (AWS) and imaging/ (Pillow) -> domain/ (pure), with
runtime, observability and settings beside them.

Importing this package is cheap on purpose: the shared definitions (settings, key layout,
table design, result model) are imported by the CDK app and the CLI, which must not pay for
Pillow or Powertools.
"""
