"""The modules' view of the running gateway: ``gateway`` and ``event_bus`` as module-level
objects that services import (``from lockgate.modules import gateway, event_bus``), as the
seed's modules import theirs from ``config.gateway``.

They forward to the registry and bus of the gateway being started or running in this
process; before one is, using them raises a RuntimeError that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from lockgate.use_cases.event_bus import EventBus
    from lockgate.use_cases.module_registry import ModuleRegistry

__all__ = ["bind", "event_bus", "gateway", "unbind"]


class _Current:
    """Forwards attribute access to whatever is bound; says clearly when nothing is.

    A method fetched once is kept on the proxy (until the next ``bind``/``unbind``), so
    later calls find it in the instance's dict and cost what a direct call does: the
    ``__getattr__`` path alone would add about a microsecond to every call.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._target: Any = None

    def __getattr__(self, name: str) -> Any:
        target = self._target
        if target is None:
            raise RuntimeError(
                f"lockgate.modules.{self._what} is not bound: no gateway with modules is "
                "started in this process (build the gateway and start it, or "
                "`async with build(...)`)"
            )
        value = getattr(target, name)
        if callable(value) and not name.startswith("_"):
            self.__dict__[name] = value  # a bound method of the current target
        return value

    def _rebind(self, target: Any) -> None:
        for name in [n for n in self.__dict__ if not n.startswith("_")]:
            del self.__dict__[name]
        self._target = target

    def __repr__(self) -> str:
        return f"<lockgate.modules.{self._what} -> {self._target!r}>"


_gateway = _Current("gateway")
_event_bus = _Current("event_bus")

gateway = cast("ModuleRegistry", _gateway)
event_bus = cast("EventBus", _event_bus)


def bind(registry: ModuleRegistry, bus: EventBus) -> None:
    """Make ``gateway`` and ``event_bus`` forward to these (the latest started gateway)."""
    _gateway._rebind(registry)
    _event_bus._rebind(bus)


def unbind(registry: ModuleRegistry) -> None:
    """Forget ``registry`` (and its bus) if they are still the bound ones."""
    if _gateway._target is registry:
        _gateway._rebind(None)
        _event_bus._rebind(None)
