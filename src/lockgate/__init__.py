"""Lockgate: functions, durable workflows and modules behind one gateway."""

from lockgate.models.function import FunctionEntity, ScalingConfig
from lockgate.models.invocation import InvocationResult
from lockgate.models.routing import Route, RouteTable

__all__ = ["FunctionEntity", "InvocationResult", "Route", "RouteTable", "ScalingConfig"]
