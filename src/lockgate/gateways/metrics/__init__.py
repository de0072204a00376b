"""Metrics about invocations and workflow runs, in Prometheus format."""
