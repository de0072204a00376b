"""RunStoreProbe: remembers whether the run store answered its last ping, and logs only the
changes (down once, back once), however often it pings."""

from __future__ import annotations

import asyncio
import logging

import pytest

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.use_cases.workflows.store_probe import RunStoreProbe


class FlakyStore(InMemoryRunStore):
    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None
        self.hang = False

    async def ping(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.failure is not None:
            raise self.failure


async def test_the_probe_remembers_the_last_answer_and_logs_only_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    probe = RunStoreProbe(store, timeout=5)
    caplog.set_level(logging.WARNING)
    assert await probe.check() is None
    store.failure = RunStoreError("cannot reach postgresql://lockgate@db:5432/runs")
    for _ in range(3):
        assert await probe.check() == "cannot reach postgresql://lockgate@db:5432/runs"
    store.failure = None
    assert await probe.check() is None
    assert probe.error is None
    assert caplog.messages == [
        "the run store is unreachable, new runs fail: "
        "cannot reach postgresql://lockgate@db:5432/runs",
        "the run store answers again",
    ]


async def test_a_ping_that_hangs_counts_as_unreachable() -> None:
    store = FlakyStore()
    store.hang = True
    probe = RunStoreProbe(store, timeout=0.01)
    assert await probe.check() == "the run store did not answer within 0.01 s"


async def test_an_unexpected_error_says_only_its_type() -> None:
    store = FlakyStore()
    store.failure = ValueError("postgresql://user:secret@db/runs")
    probe = RunStoreProbe(store)
    assert await probe.check() == "pinging the run store failed (ValueError)"
