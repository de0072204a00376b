"""Handlers that report the trace context they were handed."""

from __future__ import annotations

import os
from typing import Any


def trace_ids(event: Any, context: Any) -> Any:
    """What Lambda's environment and the API Gateway event say about the trace."""
    headers = event.get("headers") if isinstance(event, dict) else None
    return {
        "amzn_trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "traceparent": os.environ.get("TRACEPARENT"),
        "headers": headers,
    }


def joined(event: Any, context: Any) -> Any:
    """The parent a handler's own OpenTelemetry spans get, read as on AWS Lambda: by AWS's
    X-Ray propagator, from ``_X_AMZN_TRACE_ID``."""
    from opentelemetry import trace  # noqa: PLC0415 - only this handler pays for it
    from opentelemetry.propagators.aws.aws_xray_propagator import (  # noqa: PLC0415
        AwsXRayLambdaPropagator,
    )

    parent = trace.get_current_span(AwsXRayLambdaPropagator().extract({})).get_span_context()
    return {
        "trace_id": f"{parent.trace_id:032x}",
        "span_id": f"{parent.span_id:016x}",
        "sampled": parent.trace_flags.sampled,
    }
