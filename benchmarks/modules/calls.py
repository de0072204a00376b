"""Targets 1 and 2: what ``get_module_service`` and ``inter_module_call`` add to the direct
reference and the direct method call they stand for.

The modules are the seed's own (``examples/hello/aura``: users, and mentalhealth depending on
users), declared with the seed's dict, loaded and initialised by ``ModuleRegistry`` and bound
to ``lockgate.modules.gateway`` as a started gateway binds them. Each case is a loop of
``batch`` operations timed as a whole; the cases take turns batch by batch (the order rotated
every round) so that the VM's drift falls on all of them alike, and the added cost is taken
per round (case minus baseline of the same round) as well as from the medians.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import summary_us

from lockgate.modules import gateway
from lockgate.use_cases.events.bus import EventBus
from lockgate.use_cases.modules import context as module_context
from lockgate.use_cases.modules.declarations import modules_from_dict
from lockgate.use_cases.modules.loader import import_services
from lockgate.use_cases.modules.registry import ModuleRegistry

__all__ = ["SEED_MODULES", "interleaved", "measure_calls", "seed_registry"]

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "hello"

# The seed's AURA_MODULES, cut to the two modules the calls need.
SEED_MODULES: dict[str, dict[str, Any]] = {
    "users": {
        "name": "User Management",
        "services_module": "aura.users.services",
        "dependencies": [],
        "provides": ["UserService", "AuthenticationService"],
    },
    "mentalhealth": {
        "name": "Mental Health",
        "services_module": "aura.mentalhealth.domain.services",
        "dependencies": ["users"],
        "provides": ["TherapySessionService", "DisorderService"],
    },
}
USER_ID = 1  # a user the example's UserService knows

Batch = Callable[[int], float]
"""Runs ``n`` operations and returns the seconds they took."""


@contextmanager
def seed_registry(bus: EventBus | None = None) -> Iterator[ModuleRegistry]:
    """The seed's modules loaded, initialised and bound to ``lockgate.modules``.

    Raises:
        RuntimeError: A module came up unhealthy (the benchmark would measure nothing).
    """
    declarations = modules_from_dict(SEED_MODULES, code_dir=EXAMPLE_DIR)
    registry = ModuleRegistry(declarations, import_services)
    registry.load()
    registry.initialise()
    for key, health in registry.list_modules().items():
        if health["status"] != "healthy":
            raise RuntimeError(f"module {key!r} is {health['status']}: {health['message']}")
    module_context.bind(registry, bus or EventBus(known_modules=declarations.keys))
    try:
        yield registry
    finally:
        module_context.unbind(registry)


def interleaved(cases: dict[str, Batch], rounds: int, batch: int) -> dict[str, list[float]]:
    """µs per operation of every case's batch in every round, the cases taking turns."""
    names = list(cases)
    per_op: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            per_op[name].append(cases[name](batch) / batch * 1e6)
    return per_op


def _summaries(per_op: dict[str, list[float]], baseline: str) -> dict[str, Any]:
    """Each case's summary, and the summary of its per-round difference to ``baseline``."""
    base = per_op[baseline]
    return {
        "baseline": baseline,
        "cases": {name: summary_us(values) for name, values in per_op.items()},
        "added": {
            name: summary_us([v - b for v, b in zip(values, base, strict=True)])
            for name, values in per_op.items()
            if name != baseline
        },
    }


def _lookup_cases(registry: ModuleRegistry, service: object) -> dict[str, Batch]:
    by_module = {"users": {"UserService": service}}

    def local(n: int) -> float:
        held = service
        start = time.perf_counter()
        for _ in range(n):
            got = held
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got is service)

    def dict_lookup(n: int) -> float:
        modules = by_module
        start = time.perf_counter()
        for _ in range(n):
            got = modules["users"]["UserService"]
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got is service)

    def on_registry(n: int) -> float:
        modules = registry
        start = time.perf_counter()
        for _ in range(n):
            got = modules.get_module_service("users", "UserService")
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got is service)

    def on_proxy(n: int) -> float:  # the module-level name, as the seed's services use it
        start = time.perf_counter()
        for _ in range(n):
            got = gateway.get_module_service("users", "UserService")
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got is service)

    return {"local": local, "dict": dict_lookup, "registry": on_registry, "proxy": on_proxy}


def _call_cases(registry: ModuleRegistry, service: Any) -> dict[str, Batch]:
    expected = service.get_user_by_id(USER_ID)

    def direct(n: int) -> float:
        users = service
        start = time.perf_counter()
        for _ in range(n):
            got = users.get_user_by_id(USER_ID)
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got == expected)

    def on_registry(n: int) -> float:
        modules = registry
        start = time.perf_counter()
        for _ in range(n):
            got = modules.inter_module_call(
                "mentalhealth", "users", "UserService", "get_user_by_id", USER_ID
            )
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got == expected)

    def on_proxy(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            got = gateway.inter_module_call(
                "mentalhealth", "users", "UserService", "get_user_by_id", USER_ID
            )
        elapsed = time.perf_counter() - start
        return _checked(elapsed, got == expected)

    return {"direct": direct, "registry": on_registry, "proxy": on_proxy}


def _checked(elapsed: float, right: bool) -> float:
    if not right:
        raise RuntimeError("a timed case returned something other than its direct twin")
    return elapsed


def measure_calls(rounds: int, batch: int) -> dict[str, Any]:
    """Per-operation µs of each lookup and call case, and what each adds to its baseline.

    Args:
        rounds: Batches per case.
        batch: Operations per batch.
    """
    with seed_registry() as registry:
        service = registry.get_module_service("users", "UserService")
        if service is None or registry.get_module_service("users", "UserService") is not service:
            raise RuntimeError("users.UserService is not one cached instance")
        lookups, calls = _lookup_cases(registry, service), _call_cases(registry, service)
        warm = max(1, rounds // 20)
        interleaved({**lookups, **calls}, warm, batch)  # warm-up, not kept
        gc.collect()
        counted = registry.call_counts().get(("mentalhealth", "users"), 0)
        lookup = interleaved(lookups, rounds, batch)
        call = interleaved(calls, rounds, batch)
        made = registry.call_counts().get(("mentalhealth", "users"), 0) - counted
        if made != 2 * rounds * batch:  # registry and proxy cases: every call was counted
            raise RuntimeError(f"{made} calls counted, {2 * rounds * batch} made")
    return {
        "rounds": rounds,
        "batch": batch,
        "lookup": _summaries(lookup, "local"),
        "call": _summaries(call, "direct"),
    }
