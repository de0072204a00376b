"""``Application`` starts its parts in order and stops them in reverse, on one exit stack:
a start that fails part-way closes exactly what it had opened, and nothing is left bound or
open; a started gateway stops work first, then the event bus, the pools, the resources and
the secrets last."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lockgate.bootstrap import build
from lockgate.gateways.stores.events.memory import InMemoryEventStore
from lockgate.settings import Settings
from lockgate.use_cases.modules import context as module_context


def recording(calls: list[str], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    async def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return await method(*args, **kwargs)

    return recorded


async def test_a_start_failing_part_way_closes_what_it_opened_in_reverse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    application = build(Settings(run_store="memory://"))
    application.event_store = InMemoryEventStore()
    calls: list[str] = []
    for name, owner, method in (
        ("event store closed", application.event_store, "close"),
        ("event bus stopped", application.event_bus, "stop"),
        ("pools closed", application.pool_manager, "close"),
        ("resources closed", application.resources, "close"),
    ):
        monkeypatch.setattr(owner, method, recording(calls, name, getattr(owner, method)))

    async def refuse() -> None:
        raise RuntimeError("the run store is on fire")

    monkeypatch.setattr(application.workflows, "start", refuse)
    with pytest.raises(RuntimeError, match="on fire"):
        await application.start()
    assert calls == ["event bus stopped", "event store closed", "pools closed", "resources closed"]
    assert not application.started
    assert application.secret_manager is None  # closed
    assert all(registry is not application.modules for registry, _ in module_context._bound)
    await application.stop()  # nothing left to close; stopping again is harmless
    assert calls.count("pools closed") == 2  # a never-started stop still closes the pools


async def test_a_started_gateway_stops_in_reverse_order(monkeypatch: pytest.MonkeyPatch) -> None:
    application = build(Settings(run_store="memory://"))
    calls: list[str] = []
    for name, owner, method in (
        ("work stopped", application.workflows, "stop"),
        ("event bus stopped", application.event_bus, "stop"),
        ("pools closed", application.pool_manager, "close"),
        ("resources closed", application.resources, "close"),
    ):
        monkeypatch.setattr(owner, method, recording(calls, name, getattr(owner, method)))
    await application.start()
    assert application.started
    await application.stop()
    assert calls == ["work stopped", "event bus stopped", "pools closed", "resources closed"]
    assert not application.started
