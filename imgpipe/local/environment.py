"""The environment every offline run shares (tests, benchmarks): fake credentials, which moto and the
simulated AI services accept and which never leave the machine, one region, and no X-Ray or CloudWatch
metrics from Powertools."""

OFFLINE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
