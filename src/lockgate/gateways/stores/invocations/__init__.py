"""``Event`` (asynchronous) invocations, accepted durably and leased to one node at a time:
port, schema, adapters."""
