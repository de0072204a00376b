"""Resolves the resources a run names, for ``await get_resource(name)``.

A run's ``resources`` map a name to a reference. ``"@name"`` refers to a shared resource
registered with the gateway (an alias: the step asks for its own name and gets the shared
object). Typed references (a database, a cache ...) are resolved by resolvers registered per
type; without one, asking for such a resource fails the step with a message that says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from lockgate.errors import ResourceNotFoundError
from lockgate.use_cases.run_context import ResourceLookup

__all__ = ["ResourceProvider"]

Resolver = Callable[[Mapping[str, Any]], Awaitable[Any]]


class ResourceProvider:
    """Shared resources by name, and resolvers of typed references by type."""

    def __init__(self) -> None:
        self._shared: dict[str, Any] = {}
        self._resolvers: dict[str, Resolver] = {}

    def register(self, name: str, resource: Any) -> None:
        """Share ``resource`` under ``name``: runs refer to it as ``"@name"``, or get it by
        that name when their request does not name it."""
        self._shared[name] = resource

    def register_resolver(self, type_name: str, resolver: Resolver) -> None:
        """Resolve references ``{"type": type_name, ...}`` with ``resolver``."""
        self._resolvers[type_name] = resolver

    def unavailable(self, references: Mapping[str, Any], required: Iterable[str]) -> list[str]:
        """The names in ``required`` that neither the run's references nor the shared
        resources supply."""
        return [
            name
            for name in dict.fromkeys(required)
            if name not in references and name not in self._shared
        ]

    def lookup(self, references: Mapping[str, Any]) -> ResourceLookup:
        """``get_resource`` for a run with ``references``; what it resolves is visible only
        to that run."""

        async def get(name: str) -> Any:
            if name not in references:
                if name in self._shared:
                    return self._shared[name]
                raise ResourceNotFoundError(
                    f"resource {name!r} was not given to this run", name=name
                )
            reference = references[name]
            if isinstance(reference, str) and reference.startswith("@"):
                shared = reference[1:]
                if shared not in self._shared:
                    raise ResourceNotFoundError(
                        f"resource {name!r} refers to {reference!r}, which is not registered",
                        name=name,
                    )
                return self._shared[shared]
            type_name = reference.get("type") if isinstance(reference, Mapping) else None
            resolver = self._resolvers.get(type_name) if isinstance(type_name, str) else None
            if resolver is None:
                raise ResourceNotFoundError(
                    f"resource {name!r}: no resolver for references of type {type_name!r}",
                    name=name,
                )
            return await resolver(reference)

        return get
