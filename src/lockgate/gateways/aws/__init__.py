"""AWS's request signing (SigV4), done by botocore; each module imports botocore only when used."""
