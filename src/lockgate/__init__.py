"""Lockgate: functions, durable workflows and modules behind one gateway.

Public names load on first use, so a worker process (which imports ``lockgate.worker``)
does not pay for the gateway's imports.
"""

from __future__ import annotations

import importlib

# typing costs a worker ~15 ms to import (workers import this package); type checkers still
# read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lockgate.models.function import FunctionEntity, ScalingConfig
    from lockgate.models.invocation import InvocationResult
    from lockgate.models.routing import Route, RouteTable

__all__ = ["FunctionEntity", "InvocationResult", "Route", "RouteTable", "ScalingConfig"]

_LOCATIONS = {
    "FunctionEntity": "lockgate.models.function",
    "ScalingConfig": "lockgate.models.function",
    "InvocationResult": "lockgate.models.invocation",
    "Route": "lockgate.models.routing",
    "RouteTable": "lockgate.models.routing",
}


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'lockgate' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
