"""The modules' view of the running gateway: ``gateway`` and ``event_bus`` as module-level
objects that services import (``from lockgate.modules import gateway, event_bus``), as the
seed's modules import theirs from ``config.gateway``.

They forward to the registry and bus of the gateway started most recently in this process
(a gateway stopped meanwhile hands them back to the one started before it). Their methods
exist whether or not a gateway is bound, so tests can patch them (as the seed's do); calling
one with none bound raises a RuntimeError that says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockgate.use_cases.events.bus import EventBus, Publication
    from lockgate.use_cases.modules.registry import ModuleRegistry

__all__ = ["bind", "event_bus", "gateway", "unbind"]

_lock = threading.Lock()
_bound: list[tuple[ModuleRegistry, EventBus]] = []  # the most recent last


def _current() -> tuple[ModuleRegistry, EventBus]:
    try:
        return _bound[-1]
    except IndexError:
        raise RuntimeError(
            "lockgate.modules is not bound: no gateway with modules is started in this "
            "process (build the gateway and start it, or `async with build(...)`)"
        ) from None


class GatewayProxy:
    """``lockgate.modules.gateway``: the current gateway's ``ModuleRegistry``."""

    def get_module_service(self, module: str, service: str) -> Any | None:
        return _current()[0].get_module_service(module, service)

    def require_service(self, module: str, service: str) -> Any:
        return _current()[0].require_service(module, service)

    def inter_module_call(
        self,
        source_module: str,
        target_module: str,
        service: str,
        method: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        return _current()[0].inter_module_call(
            source_module, target_module, service, method, *args, **kwargs
        )

    def get_module_health(self, name: str) -> dict[str, Any]:
        return _current()[0].get_module_health(name)

    def list_modules(self) -> dict[str, dict[str, Any]]:
        return _current()[0].list_modules()

    def __getattr__(self, name: str) -> Any:  # the registry's other public names
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(_current()[0], name)

    def __repr__(self) -> str:
        return f"<lockgate.modules.gateway -> {_bound[-1][0] if _bound else None!r}>"


class EventBusProxy:
    """``lockgate.modules.event_bus``: the current gateway's ``EventBus``."""

    def subscribe(self, event: str, handler: Callable[[Any], Any], module: str) -> str:
        return _current()[1].subscribe(event, handler, module)

    def unsubscribe(self, subscriber_id: str) -> None:
        _current()[1].unsubscribe(subscriber_id)

    def publish(
        self, event: str, data: Any, source_module: str, *, connection: object | None = None
    ) -> Publication:
        return _current()[1].publish(event, data, source_module, connection=connection)

    def __getattr__(self, name: str) -> Any:  # the bus's other public names
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(_current()[1], name)

    def __repr__(self) -> str:
        return f"<lockgate.modules.event_bus -> {_bound[-1][1] if _bound else None!r}>"


gateway = GatewayProxy()
event_bus = EventBusProxy()


def bind(registry: ModuleRegistry, bus: EventBus) -> None:
    """Make ``gateway`` and ``event_bus`` forward to these (until they are unbound)."""
    with _lock:
        _bound.append((registry, bus))


def unbind(registry: ModuleRegistry) -> None:
    """Forget ``registry`` (and its bus); the gateway bound before it, if still started,
    is the current one again."""
    with _lock:
        _bound[:] = [pair for pair in _bound if pair[0] is not registry]
