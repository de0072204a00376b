"""InstancePools on their own: slots made by hand, without a catalog, opened once however
many ask, the bounded inline pool, probes, sweeps and closing.

The instances are in-test objects: counting what is created and closed is the point.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lockgate.errors import ResourceUnavailableError
from lockgate.use_cases.resources.instances import InstancePools, ResourceSlot
from tests.support import ManualClock

# A guard against a hang, not a timing assertion: everything below finishes in milliseconds.
GUARD = 5.0


class Thing:
    def __init__(self, label: str) -> None:
        self.label = label
        self.closes = 0

    async def aclose(self) -> None:
        self.closes += 1


class Maker:
    """Makes ``Thing``s, counting them; holds each creation at ``gate`` when one is set."""

    def __init__(self) -> None:
        self.made: list[Thing] = []
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    def slot(self, label: str, *, key: bytes | None = None) -> ResourceSlot:
        async def create() -> Thing:
            if self.gate is not None:
                await self.gate.wait()
            if self.error is not None:
                raise self.error
            thing = Thing(label)
            self.made.append(thing)
            return thing

        return ResourceSlot(label, "thing", key is None, None, create, key=key)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def pools(clock: ManualClock) -> InstancePools:
    return InstancePools(idle_ttl=60.0, health_timeout=GUARD, max_inline=2, clock=clock)


async def test_a_slot_from_anywhere_is_opened_once_for_every_concurrent_caller(
    pools: InstancePools,
) -> None:
    maker = Maker()
    maker.gate = asyncio.Event()
    slot = maker.slot("db")
    callers = [asyncio.create_task(pools.instance("db", slot)) for _ in range(20)]
    await asyncio.sleep(0)  # every caller is now waiting on the one creation
    maker.gate.set()
    async with asyncio.timeout(GUARD):
        instances = await asyncio.gather(*callers)
    assert len(maker.made) == 1
    assert all(instance is maker.made[0] for instance in instances)


async def test_a_full_inline_pool_closes_its_least_recently_used_idle_slot(
    pools: InstancePools, clock: ManualClock
) -> None:
    maker = Maker()
    first, second = maker.slot("a", key=b"a"), maker.slot("b", key=b"b")
    for slot in (first, second):
        pools.add("r", slot)
        await pools.instance("r", slot)
        clock.advance(1)
    await pools.instance("r", first)  # now the most recently used
    third = maker.slot("c", key=b"c")
    pools.add("r", third)
    assert (pools.pooled(b"a"), pools.pooled(b"b")) == (first, None)
    await pools.instance("r", third)
    first.users = 1  # held by a run: never evicted, however long ago it was used
    pools.add("r", maker.slot("d", key=b"d"))
    assert (pools.pooled(b"a"), pools.pooled(b"c")) == (first, None)
    await pools.close(())
    assert [thing.closes for thing in maker.made] == [1, 1, 1]


async def test_a_full_inline_pool_of_held_slots_refuses_naming_the_resource(
    pools: InstancePools,
) -> None:
    maker = Maker()
    for key in (b"a", b"b"):
        slot = maker.slot(key.decode(), key=key)
        slot.users = 1
        pools.add("r", slot)
    with pytest.raises(ResourceUnavailableError, match=r"Resource 'orders': 2 distinct inline"):
        pools.add("orders", maker.slot("c", key=b"c"))


async def test_a_failed_creation_leaves_the_pool_and_is_scrubbed_and_named(
    pools: InstancePools,
) -> None:
    maker = Maker()
    maker.error = RuntimeError("login as app:s3cret-value refused")
    slot = maker.slot("a", key=b"a")
    slot.secret_values = ("s3cret-value",)
    pools.add("orders", slot)
    with pytest.raises(ResourceUnavailableError) as caught:
        await pools.instance("orders", slot)
    assert caught.value.message == (
        "Resource 'orders' (thing): RuntimeError: login as app:*** refused"
    )
    assert pools.pooled(b"a") is None


async def test_sweep_closes_only_idle_unheld_inline_instances(
    pools: InstancePools, clock: ManualClock
) -> None:
    maker = Maker()
    idle, held = maker.slot("a", key=b"a"), maker.slot("b", key=b"b")
    for slot in (idle, held):
        pools.add("r", slot)
        await pools.instance("r", slot)
    held.users = 1
    clock.advance(61)
    assert await pools.sweep() == 1
    assert [thing.closes for thing in maker.made] == [1, 0]
    assert pools.inline() == {"thing": {"pools": 1, "runs": 1}}


async def test_close_closes_owned_shared_and_inline_slots_and_refuses_until_open(
    pools: InstancePools,
) -> None:
    maker = Maker()
    shared, inline = maker.slot("db"), maker.slot("a", key=b"a")
    given = ResourceSlot("mine", "Thing", True, None, None, owned=False)
    given.instance, given.created = Thing("mine"), True
    pools.add("r", inline)
    for slot in (shared, inline):
        await pools.instance("r", slot)
    await pools.close([shared, given])
    assert [thing.closes for thing in maker.made] == [1, 1]
    assert given.instance.closes == 0  # its owner closes it
    with pytest.raises(ResourceUnavailableError, match="shutting down"):
        await pools.instance("db", shared)
    pools.open()
    assert await pools.instance("db", shared) is maker.made[2]


async def test_health_reports_each_slot_by_label(pools: InstancePools) -> None:
    maker = Maker()

    async def says_no(_: Any) -> bool:
        return False

    good, bad = maker.slot("good"), maker.slot("bad")
    bad.health_check = says_no
    assert await pools.health([good, bad]) == {
        "good": {"status": "healthy", "type": "thing", "in_use": 0},
        "bad": {
            "status": "unhealthy",
            "type": "thing",
            "in_use": 0,
            "error": "its health check returned False",
        },
    }
