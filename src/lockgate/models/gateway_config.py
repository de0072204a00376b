"""The declared contents of a gateway: its functions and its routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lockgate.models.function import FunctionEntity
from lockgate.models.routing import Route

__all__ = ["GatewayConfig"]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Functions by name and the route table's routes; every route names a declared function."""

    functions: Mapping[str, FunctionEntity] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()

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
        object.__setattr__(self, "functions", MappingProxyType(dict(self.functions)))
