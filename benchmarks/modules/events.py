"""Event delivery between modules, in process: latency from ``publish`` to the handler's first
line, one event at a time, and throughput with many events published at once, on a bus
without a store and on the durable bus over each event store.

The bus is made as ``bootstrap.build`` makes it (node id, delivery timeout, lease, attempts,
the declared modules), over a store this run owns: the in-memory one, SQLite in a new file
(the store's own settings: WAL, ``synchronous=FULL``), or PostgreSQL in a new schema dropped
afterwards. The users module publishes; an async handler of the mentalhealth module notes
when it is entered. Beside SQLite, the cost of one ``fdatasync`` in the same folder: durable
delivery commits twice (the event with its delivery row, then the claim) before the handler
can run.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.common import summary_us
from benchmarks.modules.calls import SEED_MODULES

from lockgate.gateways.interfaces import IEventStore
from lockgate.gateways.stores.events.memory import InMemoryEventStore
from lockgate.gateways.stores.events.postgres import PostgresEventStore
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.use_cases.events.bus import EventBus

__all__ = ["STORES", "fsync_floor", "measure_events"]

STORES = ("none", "memory", "sqlite", "postgres")
EVENT = "user.registered"
SETTLE_TIMEOUT = 120.0  # seconds a scenario may take before it counts as hung
DELIVERY_TIMEOUT = 30.0  # Settings.event_delivery_timeout's default, as build passes it


class _Probe:
    """The subscriber: notes the time it is entered and wakes the benchmark when the
    expected number of events has arrived."""

    def __init__(self) -> None:
        self.entered: list[float] = []
        self.seen: set[int] = set()
        self._expected = 0
        self._done: asyncio.Future[None] | None = None

    def expect(self, count: int) -> asyncio.Future[None]:
        self.entered.clear()
        self._expected = count
        self._done = asyncio.get_running_loop().create_future()
        return self._done

    async def on_user_registered(self, data: dict[str, Any]) -> None:
        self.entered.append(time.perf_counter())
        self.seen.add(data["sequence"])
        done = self._done
        if len(self.entered) >= self._expected and done is not None and not done.done():
            done.set_result(None)


def _bus(store: IEventStore | None) -> EventBus:
    """The bus ``bootstrap.build`` would make over ``store`` with default settings."""
    return EventBus(
        store,
        node_id="bench",
        delivery_timeout=DELIVERY_TIMEOUT,
        lease_seconds=DELIVERY_TIMEOUT + 5.0,
        max_attempts=5,
        known_modules=SEED_MODULES.keys,
    )


async def _settled(bus: EventBus, delivered: int) -> None:
    """Until ``delivered`` deliveries are finished (durable: their completion stored)."""
    # The bus tells nobody when a completion is stored: its counters are polled.
    while bus.stats()["delivered"] < delivered:  # noqa: ASYNC110
        await asyncio.sleep(0.0002)


def _publish(bus: EventBus, sequence: int) -> Awaitable[str]:
    data = {"sequence": sequence, "user_id": 1, "email": "ann@example.org"}
    return bus.publish(EVENT, data, "users")


async def _latency(bus: EventBus, probe: _Probe, events: int, warm_up: int) -> dict[str, Any]:
    """Each event published after the one before is delivered and settled."""
    latencies: list[float] = []
    start = time.perf_counter()
    for sequence in range(warm_up + events):
        if sequence == warm_up:
            start = time.perf_counter()
        entered = probe.expect(1)
        published = time.perf_counter()
        publication = _publish(bus, sequence)
        await entered
        if sequence >= warm_up:
            latencies.append((probe.entered[0] - published) * 1e6)
        await publication
        await _settled(bus, sequence + 1)
    cycle = (time.perf_counter() - start) / events * 1e6
    return {**summary_us(latencies), "cycle_us": cycle}


async def _throughput(bus: EventBus, probe: _Probe, events: int, first: int) -> dict[str, Any]:
    """``events`` published at once (as fast as ``publish`` returns), then awaited."""
    delivered = bus.stats()["delivered"]
    probe.seen.clear()
    entered = probe.expect(events)
    start = time.perf_counter()
    publications = [_publish(bus, first + index) for index in range(events)]
    published = time.perf_counter()
    await asyncio.gather(*publications)
    recorded = time.perf_counter()
    await entered
    handled = time.perf_counter()
    await _settled(bus, delivered + events)
    finished = time.perf_counter()
    if probe.seen != set(range(first, first + events)):
        raise RuntimeError(f"{len(probe.seen)} distinct events handled, {events} published")
    return {
        "events": events,
        "publish_s": published - start,
        "recorded_s": recorded - start,
        "handled_s": handled - start,
        "settled_s": finished - start,
        "events_per_s": events / (finished - start),
        "handled_per_s": events / (handled - start),
        "handler_calls": len(probe.entered),
    }


async def _one_store(
    store: IEventStore | None, latency_events: int, throughput_events: int, warm_up: int
) -> dict[str, Any]:
    bus, probe = _bus(store), _Probe()
    bus.subscribe(EVENT, probe.on_user_registered, "mentalhealth")
    if store is not None:
        await store.open()
    try:
        await bus.start()
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT):
                gc.collect()
                latency = await _latency(bus, probe, latency_events, warm_up)
                gc.collect()
                throughput = await _throughput(
                    bus, probe, throughput_events, warm_up + latency_events
                )
        finally:
            await bus.stop()
        stats = bus.stats()
        if stats["failed_attempts"] or stats["dead"]:
            raise RuntimeError(f"deliveries failed: {stats}")
        return {"latency": latency, "throughput": throughput, "stats": stats}
    finally:
        if store is not None:
            await store.close()


async def measure_events(
    scratch: Path,
    dsn: str | None,
    schema: str | None,
    *,
    latency_events: int,
    throughput_events: int,
    warm_up: int,
) -> dict[str, Any]:
    """Latency and throughput per store (PostgreSQL when ``dsn`` and ``schema`` are given).

    Args:
        scratch: A folder for the SQLite file.
        dsn: The PostgreSQL server, or None to leave it out.
        schema: A schema that does not exist yet (the caller drops it).
        latency_events: Events timed one at a time, after ``warm_up`` untimed ones.
        throughput_events: Events published at once.
    """
    stores: dict[str, Callable[[], IEventStore | None]] = {
        "none": lambda: None,
        "memory": InMemoryEventStore,
        "sqlite": lambda: SQLiteEventStore(scratch / "events.sqlite3"),
    }
    if dsn is not None and schema is not None:
        stores["postgres"] = lambda: PostgresEventStore(dsn, schema=schema)
    results: dict[str, Any] = {}
    for name, make in stores.items():
        started = time.perf_counter()
        results[name] = await _one_store(make(), latency_events, throughput_events, warm_up)
        results[name]["seconds"] = time.perf_counter() - started
    return results


def fsync_floor(folder: Path, count: int) -> dict[str, Any]:
    """µs of one ``fdatasync`` after appending 4 KiB to a file in ``folder`` (what a SQLite
    commit in WAL mode with ``synchronous=FULL`` does while the WAL grows: it writes the
    frames and calls ``fdatasync`` once, as strace shows), and after rewriting 4 KiB in
    place (the WAL reused from its start after a checkpoint)."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"x" * 4096
    appended: list[float] = []
    rewritten: list[float] = []
    try:
        for _ in range(count):
            os.write(fd, block)
            start = time.perf_counter()
            os.fdatasync(fd)
            appended.append((time.perf_counter() - start) * 1e6)
        for _ in range(count):
            os.pwrite(fd, block, 0)
            start = time.perf_counter()
            os.fdatasync(fd)
            rewritten.append((time.perf_counter() - start) * 1e6)
    finally:
        os.close(fd)
        path.unlink()
    return {"append": summary_us(appended), "rewrite": summary_us(rewritten)}
