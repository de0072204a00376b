"""Job runs, kept beside the workflow runs: port, schema, adapters."""
