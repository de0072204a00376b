"""AWS: Lambda as an invocation backend, Batch as a job runner, and request signing (SigV4).
boto3 and botocore (the ``aws`` extra) are imported only where used."""
