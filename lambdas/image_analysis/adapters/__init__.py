"""One small class per AWS service, bound to its client, translating botocore's errors into the
pipeline's own (errors.py) with `raise ... from`. Imports the domain and imaging's data types only."""
