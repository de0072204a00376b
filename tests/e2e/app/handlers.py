"""Handlers the end-to-end tests call through a real gateway and real worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

STARTED_AT = time.time()


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "request_id": context.aws_request_id}


async def async_echo(event: Any, context: Any) -> Any:
    await asyncio.sleep(0)
    return {"async": True, "event": event}


def context_fields(event: Any, context: Any) -> Any:
    client_context = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "invoked_function_arn": context.invoked_function_arn,
        "log_stream_name": context.log_stream_name,
        "client_context_custom": client_context.custom if client_context else None,
        "greeting": os.environ.get("GREETING"),
        "pid": os.getpid(),
        "started_at": STARTED_AT,
    }


def raises(event: Any, context: Any) -> Any:
    print("about to fail")
    raise ValueError("the handler refused")


def sleeps(event: Any, context: Any) -> Any:
    time.sleep(float(event.get("seconds", 3600)) if isinstance(event, dict) else 3600)
    return {"slept": True, "pid": os.getpid()}


def exits(event: Any, context: Any) -> Any:
    os._exit(3)


def killed(event: Any, context: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)
    return None


def chatty(event: Any, context: Any) -> Any:
    chunk = "x" * 1023 + "\n"
    for _ in range(4 * 1024):  # 4 MB through print
        sys.stdout.write(chunk)
    print("the last line")
    return {"printed": 4 * 1024 * 1024}


def malformed(event: Any, context: Any) -> Any:
    return {"body": "no status code here"}  # invalid for payload format 1.0


def pid(event: Any, context: Any) -> Any:
    return {"pid": os.getpid()}


def not_json(event: Any, context: Any) -> Any:
    return {"value": object()}


def rest_echo(event: Any, context: Any) -> Any:
    """A REST-API (payload 1.0) style response carrying the event as its body."""
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"x-multi": ["1", "2"]},
        "body": json.dumps({"event": event}),
    }


def record(event: Any, context: Any) -> Any:
    """Appends what it ran to ``event["path"]``: the Event invocation tests read it."""
    time.sleep(event.get("sleep", 0))
    line = {"request_id": context.aws_request_id, "event": event, "pid": os.getpid()}
    with open(event["path"], "a") as out:
        out.write(json.dumps(line) + "\n")
    return {"recorded": True}


def flaky(event: Any, context: Any) -> Any:
    """Fails until it has been called ``event["fail_times"]`` times (counted in a file)."""
    with open(event["path"], "a+") as counter:
        counter.write("x")
        counter.seek(0)
        calls = len(counter.read())
    if calls <= event["fail_times"]:
        raise RuntimeError(f"failing on call {calls}")
    return {"calls": calls}


def cors_echo(event: Any, context: Any) -> Any:
    """Answers with CORS headers of its own (which CORS configured at the gateway replaces)."""
    return {
        "statusCode": 200,
        "headers": {"access-control-allow-origin": "*", "x-from": "function"},
        "body": "hi",
    }


def _record_authorizer_call(event: Any) -> None:
    """Appends the event to the file ``AUTHORIZER_CALLS`` names: tests prove an authorizer
    was (or was not) called, and with what."""
    with open(os.environ["AUTHORIZER_CALLS"], "a") as out:
        out.write(json.dumps(event) + "\n")


def _identity(event: Any) -> str:
    source = event.get("identitySource")
    return source[0] if isinstance(source, list) else str(source).split(",")[0]


def authorize(event: Any, context: Any) -> Any:
    """A Lambda authorizer with simple responses; what it answers depends on the token."""
    _record_authorizer_call(event)
    token = _identity(event)
    if token == "boom":
        raise RuntimeError("the authorizer broke")
    if token == "unauthorized":
        raise RuntimeError("Unauthorized")
    if token == "garbage":
        return {"allowed": "perhaps"}
    if token == "slow":
        time.sleep(3600)
    return {"isAuthorized": token.startswith("allow"), "context": {"user": token, "n": 1}}


def authorize_iam(event: Any, context: Any) -> Any:
    """A Lambda authorizer answering IAM policies for this request's ARN."""
    _record_authorizer_call(event)
    token = _identity(event)
    arn = event.get("routeArn") or event["methodArn"]
    statements = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}]
    if token == "deny":
        statements.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"})
    elif token == "elsewhere":
        statements[0]["Resource"] = arn.rsplit("/", 1)[0] + "/somewhere-else"
    return {
        "principalId": f"user-{token}",
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": {"tier": "gold", "level": 3},
    }
