"""``Event`` (asynchronous) invocations: accepted durably, run by the function's pool,
retried, or dead."""
