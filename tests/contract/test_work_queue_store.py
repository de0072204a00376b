"""The ``IWorkQueueStore`` contract: the leased queue that event deliveries and ``Event``
invocations share, run once per backend (memory, SQLite, the real PostgreSQL on this
machine) over each family's table, items put in by the family's own store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lockgate.gateways.interfaces import IWorkQueueStore
from lockgate.gateways.stores.events.memory import InMemoryEventStore
from lockgate.gateways.stores.events.postgres import PostgresEventStore
from lockgate.gateways.stores.events.sqlite import SQLiteEventStore
from lockgate.gateways.stores.invocations.memory import InMemoryAsyncInvocationStore
from lockgate.gateways.stores.invocations.postgres import PostgresAsyncInvocationStore
from lockgate.gateways.stores.invocations.sqlite import SQLiteAsyncInvocationStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from lockgate.models.event import Delivery, EventRecord
from tests.contract.backends import PG_DSN, Makers

NOW = 1_700_000_000.0
LEASE = 30.0


@dataclass(frozen=True)
class Family:
    """How the suite puts items into one family's store and reads them back."""

    makers: Makers
    waiting: str
    done: str
    add: Callable[[Any, str, str, float], Any]  # store, name, group, accepted at
    key: Callable[[str, str], str]  # an item's id from its name and group
    read: Callable[[Any], tuple[str, str, int, str | None]]  # id, status, attempts, error


async def _invocation(store: Any, name: str, group: str, at: float) -> None:
    status = AsyncInvocationStatus.QUEUED
    await store.enqueue(AsyncInvocation(name, group, b"{}", None, status, 0, at, at))


async def _event(store: Any, name: str, group: str, at: float) -> None:
    await store.record(EventRecord(name, "thing.happened", {"n": 1}, "m", at), [group])


def _read_invocation(item: AsyncInvocation) -> tuple[str, str, int, str | None]:
    return item.request_id, item.status.value, item.attempts, item.error


def _read_delivery(item: Delivery) -> tuple[str, str, int, str | None]:
    return item.id, item.status.value, item.attempts, item.error


FAMILIES = {
    "invocations": Family(
        {
            "memory": lambda _path, _schema: InMemoryAsyncInvocationStore(),
            "sqlite": lambda path, _schema: SQLiteAsyncInvocationStore(path),
            "postgres": lambda _path, schema: PostgresAsyncInvocationStore(PG_DSN, schema=schema),
        },
        "queued",
        "succeeded",
        _invocation,
        lambda name, _group: name,
        _read_invocation,
    ),
    "deliveries": Family(
        {
            "memory": lambda _path, _schema: InMemoryEventStore(),
            "sqlite": lambda path, _schema: SQLiteEventStore(path),
            "postgres": lambda _path, schema: PostgresEventStore(PG_DSN, schema=schema),
        },
        "pending",
        "completed",
        _event,
        lambda name, group: f"{name}:{group}",
        _read_delivery,
    ),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> Family:
    return FAMILIES[request.param]


@pytest.fixture
def makers(family: Family) -> Makers:
    return family.makers


class Queue:
    """The store's queue, with the family's way in."""

    def __init__(self, store: Any, family: Family) -> None:
        self.store, self.family = store, family
        self.q: IWorkQueueStore[Any] = store.queue

    async def add(self, name: str, group: str = "g", at: float = NOW) -> str:
        await self.family.add(self.store, name, group, at)
        return self.family.key(name, group)

    def ids(self, items: list[Any]) -> list[str]:
        return [self.family.read(item)[0] for item in items]

    async def state(self, key: str) -> tuple[str, int, str | None]:
        item = await self.q.get(key)
        assert item is not None
        _, status, attempts, error = self.family.read(item)
        return status, attempts, error


@pytest.fixture
def queue(store: Any, family: Family) -> Queue:
    return Queue(store, family)


async def test_implements_the_protocol(queue: Queue) -> None:
    assert isinstance(queue.q, IWorkQueueStore)


async def test_claims_due_oldest_first_leased_and_counted(queue: Queue) -> None:
    b = await queue.add("b", at=NOW + 1)
    a = await queue.add("a", at=NOW)
    c = await queue.add("c", at=NOW + 50)  # not yet due

    claimed = await queue.q.claim_due("node", NOW + 10, LEASE, 10)

    assert queue.ids(claimed) == [a, b]
    assert [queue.family.read(i)[2] for i in claimed] == [1, 1]
    assert await queue.q.claim_due("other", NOW + 10 + LEASE - 1, LEASE, 10) == []  # held
    assert queue.ids(await queue.q.claim_due("other", NOW + 10 + LEASE, LEASE, 1)) == [a]
    assert queue.ids(await queue.q.claim_due("other", NOW + 60, LEASE, 10)) == [b, c]
    assert await queue.state(a) == (queue.family.waiting, 2, None)


async def test_a_claim_skips_the_groups_it_is_told_to(queue: Queue) -> None:
    busy = await queue.add("a", "busy")
    free = await queue.add("b", "free")
    claimed = await queue.q.claim_due("node", NOW, LEASE, 10, skip_groups=["busy"])
    assert queue.ids(claimed) == [free]
    assert queue.ids(await queue.q.claim_due("node", NOW, LEASE, 10)) == [busy]


async def test_release_hands_an_owners_leases_back(queue: Queue) -> None:
    mine, theirs = await queue.add("a"), await queue.add("b")
    await queue.q.claim_due("me", NOW, LEASE, 1)
    await queue.q.claim_due("them", NOW, LEASE, 1)

    assert await queue.q.release("me", NOW + 1) == 1

    assert queue.ids(await queue.q.claim_due("next", NOW + 1, LEASE, 10)) == [mine]
    assert await queue.state(mine) == (queue.family.waiting, 2, None)  # claims stay counted
    assert await queue.state(theirs) == (queue.family.waiting, 1, None)


async def test_complete_fail_retry_and_dead(queue: Queue) -> None:
    done, retried, dead = await queue.add("a"), await queue.add("b"), await queue.add("c")
    await queue.q.claim_due("node", NOW, LEASE, 10)

    await queue.q.complete(done, NOW + 1)
    await queue.q.fail(retried, "boom", NOW + 1, NOW + 100)
    await queue.q.fail(dead, "gave up", NOW + 1, None)

    assert await queue.state(done) == (queue.family.done, 1, None)
    assert await queue.state(retried) == (queue.family.waiting, 1, "boom")
    assert await queue.state(dead) == ("dead", 1, "gave up")
    assert await queue.q.claim_due("node", NOW + 99, LEASE, 10) == []
    assert queue.ids(await queue.q.claim_due("node", NOW + 100, LEASE, 10)) == [retried]
    await queue.q.fail(retried, None, NOW + 101, NOW + 101, counted=False)  # put off
    assert await queue.state(retried) == (queue.family.waiting, 1, "boom")
    await queue.q.fail(done, "late", NOW + 102, NOW + 103)  # only a waiting item fails
    await queue.q.fail(dead, "late", NOW + 102, NOW + 103)
    assert await queue.state(done) == (queue.family.done, 1, None)
    assert await queue.state(dead) == ("dead", 1, "gave up")


async def test_list_and_get(queue: Queue) -> None:
    a = await queue.add("a", "x", at=NOW + 2)
    b = await queue.add("b", "y", at=NOW + 1)
    c = await queue.add("c", "x", at=NOW + 3)
    await queue.q.claim_due("node", NOW + 5, LEASE, 1)  # b
    await queue.q.fail(b, "gave up", NOW + 5, None)

    assert queue.ids(await queue.q.list_items()) == [b, a, c]
    assert queue.ids(await queue.q.list_items(limit=2)) == [b, a]
    assert queue.ids(await queue.q.list_items("dead")) == [b]
    assert queue.ids(await queue.q.list_items(queue.family.waiting, "x")) == [a, c]
    assert await queue.q.get(queue.family.key("missing", "x")) is None
    with pytest.raises(ValueError, match="limit"):
        await queue.q.list_items(limit=-1)


async def test_redrive_only_the_dead(queue: Queue) -> None:
    x1, y1, x2 = await queue.add("a", "x"), await queue.add("b", "y"), await queue.add("c", "x")
    await queue.q.claim_due("node", NOW, LEASE, 10)
    for key in (x1, y1, x2):
        await queue.q.fail(key, "gave up", NOW + 1, None)
    await queue.q.redrive(NOW + 2, [x2])
    await queue.q.complete(x2, NOW + 3)  # re-driven, claimable and done

    assert await queue.q.redrive(NOW + 4, [x2, "unknown"]) == []
    assert await queue.q.redrive(NOW + 4, [], "x") == []  # no ids: none, not every one
    assert await queue.q.redrive(NOW + 4, group="x") == [x1]
    assert await queue.state(x1) == (queue.family.waiting, 0, None)
    assert await queue.q.redrive(NOW + 4) == [y1]
    assert queue.ids(await queue.q.claim_due("node", NOW + 4, LEASE, 10)) == [x1, y1]
    with pytest.raises(TypeError, match="not the string"):
        await queue.q.redrive(NOW, x1)


async def test_purge_drops_done_items_finished_before(queue: Queue) -> None:
    a, b, c = await queue.add("a"), await queue.add("b"), await queue.add("c")
    await queue.q.claim_due("node", NOW, LEASE, 10)
    await queue.q.complete(b, NOW + 1)
    await queue.q.complete(a, NOW + 2)
    await queue.q.fail(c, "gave up", NOW + 1, None)

    assert await queue.q.purge(NOW + 10, limit=1) == 1  # the first finished
    assert queue.ids(await queue.q.list_items()) == [a, c]
    assert await queue.q.purge(NOW + 2) == 0  # a finished at NOW + 2, not before
    assert await queue.q.purge(NOW + 10) == 1
    assert queue.ids(await queue.q.list_items()) == [c]  # the dead are kept


@pytest.mark.parametrize(("lease", "limit"), [(0.0, 1), (-1.0, 1), (1.0, -1)])
async def test_claims_check_their_arguments(queue: Queue, lease: float, limit: int) -> None:
    with pytest.raises(ValueError, match=r"lease_seconds|limit"):
        await queue.q.claim_due("node", NOW, lease, limit)
