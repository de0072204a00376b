"""Lockgate's domain: frozen dataclasses, NamedTuples for per-invocation records, enums; no I/O."""

from lockgate.models.context import HttpResponse, InputContext
from lockgate.models.function import FunctionEntity, ScalingConfig
from lockgate.models.invocation import (
    HandlerError,
    InvocationResult,
    WorkerInvocation,
    WorkerReply,
)
from lockgate.models.pool import BreakerState, PoolStats
from lockgate.models.routing import Route, RouteMatch, RouteTable

__all__ = [
    "BreakerState",
    "FunctionEntity",
    "HandlerError",
    "HttpResponse",
    "InputContext",
    "InvocationResult",
    "PoolStats",
    "Route",
    "RouteMatch",
    "RouteTable",
    "ScalingConfig",
    "WorkerInvocation",
    "WorkerReply",
]
