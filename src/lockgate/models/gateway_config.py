"""The declared contents of a gateway: its functions, routes and workflows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from lockgate.models.function import FunctionEntity
from lockgate.models.job import JobDefinition
from lockgate.models.module import ModuleDeclaration
from lockgate.models.resource import ResourceReference
from lockgate.models.routing import Route
from lockgate.models.security.authorizers import FunctionAuthorizer
from lockgate.models.security.config import SecurityConfig
from lockgate.models.trace import TracingConfig

__all__ = ["GatewayConfig", "WorkflowDeclaration"]


@dataclass(frozen=True, slots=True)
class WorkflowDeclaration:
    """A workflow declared in ``lockgate.toml``: ``builder`` ("module:function", imported
    from ``code_dir``) returns the built workflow (or its builder)."""

    name: str
    builder: str
    code_dir: Path
    description: str = ""
    required_resources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Functions by name, the route table's routes (each names a declared function),
    workflows by name, shared resources (``"@name"``) by name, the modular monolith's
    modules by key, the jobs users may start by name, who may call what, and where traces
    go (read at start-up: a reload does not change it)."""

    functions: Mapping[str, FunctionEntity] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    workflows: Mapping[str, WorkflowDeclaration] = field(default_factory=dict)
    resources: Mapping[str, ResourceReference] = field(default_factory=dict)
    modules: Mapping[str, ModuleDeclaration] = field(default_factory=dict)
    jobs: Mapping[str, JobDefinition] = field(default_factory=dict)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)

    def __post_init__(self) -> None:
        for name, function in self.functions.items():
            if name != function.name:
                raise ValueError(f"function registered as {name!r} is named {function.name!r}")
        for route in self.routes:
            if route.function not in self.functions:
                declared = ", ".join(sorted(self.functions)) or "none"
                raise ValueError(
                    f"route {route.route_key!r} names function {route.function!r}, "
                    f"which is not declared (declared: {declared})"
                )
            if route.authorizer is not None and route.authorizer not in self.security.authorizers:
                raise ValueError(
                    f"route {route.route_key!r} names authorizer {route.authorizer!r}, "
                    "which is not declared"
                )
        for authorizer in self.security.authorizers.values():
            if isinstance(authorizer, FunctionAuthorizer) and (
                authorizer.function not in self.functions
            ):
                raise ValueError(
                    f"authorizer {authorizer.name!r} names function {authorizer.function!r}, "
                    "which is not declared"
                )
        object.__setattr__(self, "functions", MappingProxyType(dict(self.functions)))
        object.__setattr__(self, "workflows", MappingProxyType(dict(self.workflows)))
        object.__setattr__(self, "resources", MappingProxyType(dict(self.resources)))
        object.__setattr__(self, "modules", MappingProxyType(dict(self.modules)))
        object.__setattr__(self, "jobs", MappingProxyType(dict(self.jobs)))
