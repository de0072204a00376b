"""The Lambda-shaped parts of the Runtime API: the headers an event is handed out with, and
the error documents runtimes post. Pure functions, no I/O."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time

import orjson

from lockgate.models.invocation import HandlerError, WorkerInvocation

__all__ = ["event_headers", "posted_error"]


def event_headers(invocation: WorkerInvocation) -> list[tuple[bytes, bytes]]:
    """The ``Lambda-Runtime-*`` headers of ``GET /next``'s answer, as raw (name, value) pairs."""
    headers = [
        (b"content-type", b"application/json"),
        (b"lambda-runtime-aws-request-id", invocation.request_id.encode()),
        (b"lambda-runtime-deadline-ms", str(invocation.deadline_epoch_ms).encode()),
        (b"lambda-runtime-invoked-function-arn", invocation.invoked_function_arn.encode()),
        (b"lambda-runtime-trace-id", _trace_id(invocation)),
    ]
    client_context = _client_context(invocation.client_context)
    if client_context is not None:
        headers.append((b"lambda-runtime-client-context", client_context))
    return headers


def _client_context(encoded: str | None) -> bytes | None:
    """``X-Amz-Client-Context`` is base64 JSON; Lambda hands runtimes the JSON itself
    (awslambdaric ``json.loads`` the header). Re-encoded compact and ASCII-only, so it is a
    valid header value; undecodable context is dropped, as the native worker drops it."""
    if not encoded:
        return None
    try:
        data = orjson.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()


def _trace_id(invocation: WorkerInvocation) -> bytes:
    """The X-Ray trace header of the invocation's span (runtimes set ``_X_AMZN_TRACE_ID``
    from it); without one, a fresh unsampled one, as Lambda sends one with every event."""
    if invocation.trace is not None:
        return invocation.trace.amzn_trace_id.encode()
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0".encode()


def posted_error(body: bytes, header_type: str | None) -> HandlerError:
    """The error a runtime posted: Lambda's JSON shape if it is that, else the raw text."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return HandlerError(
            error_message=body.decode(errors="replace"),
            error_type=header_type or "Unhandled",
        )
    return HandlerError.from_object(data, default_type=header_type or "Unhandled")
