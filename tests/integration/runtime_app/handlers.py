"""Handlers run by ``python -m awslambdaric handlers.<name>`` in the Runtime API tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def echo(event: Any, context: Any) -> Any:
    print(f"echo handler saw {event!r}")
    return event


def pid(event: Any, context: Any) -> dict[str, int]:
    return {"pid": os.getpid()}


def context_fields(event: Any, context: Any) -> dict[str, Any]:
    client = context.client_context
    return {
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "client_custom": None if client is None else client.custom,
        "client_env": None if client is None else client.env,
        "handler_env": os.environ.get("_HANDLER"),
        "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "declared": os.environ.get("DECLARED"),
    }


def fail(event: Any, context: Any) -> None:
    print("about to fail")
    raise ValueError("bad input: " + str(event.get("why")))


def hang(event: Any, context: Any) -> None:
    """Writes its pid where the test can find it, then outlives any deadline."""
    Path(event["pid_file"]).write_text(str(os.getpid()))
    time.sleep(600)


def crash(event: Any, context: Any) -> None:
    print("going down", flush=True)
    os._exit(9)


def rendezvous(event: Any, context: Any) -> dict[str, int]:
    """Returns only once ``count`` invocations are inside it at the same time; one runtime
    process serves one invocation at a time, so they can only meet in different workers."""
    folder = Path(event["folder"])
    (folder / context.aws_request_id).touch()
    deadline = time.monotonic() + 30
    while len(list(folder.iterdir())) < event["count"] and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"pid": os.getpid(), "met": len(list(folder.iterdir()))}


def context_shape(event: Any, context: Any) -> dict[str, Any]:
    """What a handler can tell of its context and environment, as types and values: the
    same handler under awslambdaric and the native worker must see the same shape."""
    client_context = context.client_context
    client = None if client_context is None else client_context.client
    identity = context.identity
    return {
        "memory_type": type(context.memory_limit_in_mb).__name__,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "identity": [identity.cognito_identity_id, identity.cognito_identity_pool_id],
        "client_context_type": type(client_context).__name__,
        "client": None
        if client is None
        else [
            client.installation_id,
            client.app_title,
            client.app_version_name,
            client.app_version_code,
            client.app_package_name,
        ],
        "custom": None if client_context is None else client_context.custom,
        "env": {
            name: os.environ.get(name)
            for name in (
                "LANG",
                "TZ",
                "_HANDLER",
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "LAMBDA_TASK_ROOT",
            )
        },
        "has_runtime_dir": bool(os.environ.get("LAMBDA_RUNTIME_DIR")),
    }
