"""The pipeline's vocabulary, pure: result model, states, errors, key layout, table design, records,
intake and metric names. Imports nothing but the standard library (no AWS, no Pillow), so the CDK app,
the CLI and the tests share it at no cost."""
