"""SIMULATED AI services, not AWS: a local server speaking Bedrock's and Rekognition's wire protocols
whose answers are computed from pixels (colours, fingerprints, boxes), not from any model. The tests and
benchmarks run against it; `imgpipe demo --simulated-ai` shows a newcomer what results look like with it,
and labels every such result as simulated."""
