"""The Lockgate client SDK: run workflows, follow their runs, invoke functions.

::

    from lockgate.client import Client

    async with Client("http://127.0.0.1:8000", token=token) as client:
        result = await client.execute_workflow("pipeline", parameters={"numbers": [1, 2]})
        if result.is_success:
            print(result.result)

``token`` is a bearer token (``lockgate tokens create``; ``LOCKGATE_TOKEN`` by default),
needed unless the gateway lets anonymous callers use its workflow API. It needs only httpx:
importing it does not load the gateway.
"""

from __future__ import annotations

from lockgate.client.core import Client
from lockgate.client.errors import (
    ClientError,
    Conflict,
    Forbidden,
    FunctionError,
    FunctionNotFound,
    GatewayUnavailable,
    InvalidRequest,
    InvalidResponse,
    NotFound,
    RunNotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
    WaitTimeout,
    WorkflowNotFound,
)
from lockgate.client.results import RunList, RunSummary, StepInfo, WorkflowResult

__all__ = [
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "FunctionError",
    "FunctionNotFound",
    "GatewayUnavailable",
    "InvalidRequest",
    "InvalidResponse",
    "NotFound",
    "RunList",
    "RunNotFound",
    "RunSummary",
    "ServerError",
    "StepInfo",
    "TooManyRequests",
    "Unauthorized",
    "WaitTimeout",
    "WorkflowNotFound",
    "WorkflowResult",
]
