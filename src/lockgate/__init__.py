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

    from lockgate.bootstrap import Application, build
    from lockgate.config.settings import Settings
    from lockgate.embedded import EnhancedDurableAPIGateway, SecretManager
    from lockgate.errors import SecretNotFoundError, WorkflowNotFoundError
    from lockgate.gateways.resources.database.pool_factory import DatabasePoolFactory
    from lockgate.models.function import FunctionEntity, ScalingConfig
    from lockgate.models.invocation import InvocationResult
    from lockgate.models.resource import ResourceReference
    from lockgate.models.routing import Route, RouteTable
    from lockgate.models.run import WorkflowRequest, WorkflowResponse
    from lockgate.models.workflow import RetryPolicy, Workflow
    from lockgate.use_cases.resources.registry import ResourceRegistry
    from lockgate.use_cases.resources.resolver import ResourceResolver
    from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder
    from lockgate.use_cases.workflows.run_context import get_current_context, get_resource

__all__ = [
    "Application",
    "AsyncWorkflowBuilder",
    "DatabasePoolFactory",
    "EnhancedDurableAPIGateway",
    "FunctionEntity",
    "InvocationResult",
    "ResourceReference",
    "ResourceRegistry",
    "ResourceResolver",
    "RetryPolicy",
    "Route",
    "RouteTable",
    "ScalingConfig",
    "SecretManager",
    "SecretNotFoundError",
    "Settings",
    "Workflow",
    "WorkflowNotFoundError",
    "WorkflowRequest",
    "WorkflowResponse",
    "build",
    "get_current_context",
    "get_resource",
]

_LOCATIONS = {
    "FunctionEntity": "lockgate.models.function",
    "ScalingConfig": "lockgate.models.function",
    "InvocationResult": "lockgate.models.invocation",
    "Route": "lockgate.models.routing",
    "RouteTable": "lockgate.models.routing",
    "Application": "lockgate.bootstrap",
    "build": "lockgate.bootstrap",
    "Settings": "lockgate.config.settings",
    "WorkflowRequest": "lockgate.models.run",
    "WorkflowResponse": "lockgate.models.run",
    "RetryPolicy": "lockgate.models.workflow",
    "Workflow": "lockgate.models.workflow",
    "AsyncWorkflowBuilder": "lockgate.use_cases.workflows.builder",
    "get_current_context": "lockgate.use_cases.workflows.run_context",
    "get_resource": "lockgate.use_cases.workflows.run_context",
    "ResourceReference": "lockgate.models.resource",
    "ResourceRegistry": "lockgate.use_cases.resources.registry",
    "ResourceResolver": "lockgate.use_cases.resources.resolver",
    "DatabasePoolFactory": "lockgate.gateways.resources.database.pool_factory",
    # The seed's gateway and a SecretManager that finds its store and key (embedded/).
    "EnhancedDurableAPIGateway": "lockgate.embedded",
    "SecretManager": "lockgate.embedded",
    "SecretNotFoundError": "lockgate.errors",
    "WorkflowNotFoundError": "lockgate.errors",
}


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'lockgate' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
