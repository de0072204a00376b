"""Usage plans: the token bucket per key, quotas per period counted across nodes through one
store (flushed in batches), their Retry-After, and the UTC period boundaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest

from lockgate.errors import RunStoreError
from lockgate.gateways.interfaces import UsageKey
from lockgate.gateways.stores.credentials.memory import InMemoryCredentialStore
from lockgate.models.security.authorizers import UsagePlan
from lockgate.use_cases.auth.usage.meter import Refusal, UsageMeter
from lockgate.use_cases.auth.usage.periods import period_of


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Monday 7 December 2026, 12:00:00 UTC.
NOON = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC).timestamp()


def meter(store: InMemoryCredentialStore, clock: Clock, wall: Clock) -> UsageMeter:
    return UsageMeter(store, clock=clock, wall_clock=wall)


async def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    clock, wall = Clock(0.0), Clock(NOON)
    usage = meter(InMemoryCredentialStore(), clock, wall)
    plan = UsagePlan("basic", rate=2.0, burst=3)
    assert [await usage.admit("k1", plan) for _ in range(3)] == [None] * 3
    assert await usage.admit("k1", plan) == Refusal(quota=False, retry_after=1)
    assert await usage.admit("k2", plan) is None  # another key: its own bucket
    clock.now += 0.5  # one token back
    assert await usage.admit("k1", plan) is None
    assert await usage.admit("k1", plan) is not None
    slow = UsagePlan("slow", rate=0.1, burst=1)
    assert await usage.admit("k3", slow) is None
    assert await usage.admit("k3", slow) == Refusal(quota=False, retry_after=10)


async def test_a_quota_counts_across_nodes_through_the_store() -> None:
    store = InMemoryCredentialStore()
    clock, wall = Clock(0.0), Clock(NOON)
    one, two = meter(store, clock, wall), meter(store, clock, wall)
    plan = UsagePlan("basic", rate=1000.0, burst=1000, quota_limit=5, quota_period="day")
    for _ in range(3):
        assert await one.admit("k", plan) is None
    await one.flush()
    assert await store.add_usage({("k", "day:2026-12-07"): 0}) == {("k", "day:2026-12-07"): 3}
    # Node two reads the shared count on its first request of the period: 3 used.
    assert await two.admit("k", plan) is None
    assert await two.admit("k", plan) is None
    refused = await two.admit("k", plan)
    assert refused == Refusal(quota=True, retry_after=12 * 3600)
    await two.flush()
    # Node one learns node two's counts at its next flush.
    assert await one.admit("k", plan) is None  # it still believes 3 were used
    await one.flush()
    assert await one.admit("k", plan) is not None
    totals = await store.add_usage({("k", "day:2026-12-07"): 0})
    assert totals == {("k", "day:2026-12-07"): 6}  # the documented overshoot: one request


async def test_a_new_period_starts_from_zero() -> None:
    store = InMemoryCredentialStore()
    clock, wall = Clock(0.0), Clock(NOON)
    usage = meter(store, clock, wall)
    plan = UsagePlan("p", rate=100.0, burst=100, quota_limit=1, quota_period="day")
    assert await usage.admit("k", plan) is None
    assert (await usage.admit("k", plan) or Refusal(False, 0)).quota
    wall.now += 12 * 3600  # midnight UTC
    assert await usage.admit("k", plan) is None
    await usage.flush()
    assert await store.add_usage({("k", "day:2026-12-08"): 0}) == {("k", "day:2026-12-08"): 1}


async def test_counts_survive_a_failed_flush() -> None:
    class Failing(InMemoryCredentialStore):
        fail = True

        async def add_usage(self, counts: Mapping[UsageKey, int]) -> dict[UsageKey, int]:
            if self.fail and any(counts.values()):
                raise RunStoreError("the database is down")
            return await super().add_usage(counts)

    store = Failing()
    usage = meter(store, Clock(0.0), Clock(NOON))
    plan = UsagePlan("p", rate=100.0, burst=100, quota_limit=10, quota_period="month")
    for _ in range(4):
        assert await usage.admit("k", plan) is None
    with pytest.raises(RunStoreError, match="down"):
        await usage.flush()
    assert await usage.admit("k", plan) is None
    store.fail = False
    await usage.flush()
    assert await store.add_usage({("k", "month:2026-12"): 0}) == {("k", "month:2026-12"): 5}


def test_periods_end_at_utc_boundaries() -> None:
    assert period_of("day", NOON).key == "day:2026-12-07"
    assert period_of("day", NOON).ends == NOON + 12 * 3600
    week = period_of("week", NOON)  # a Monday: the ISO week runs to Sunday night
    assert week.key == "week:2026-W50"
    assert week.ends == dt.datetime(2026, 12, 14, tzinfo=dt.UTC).timestamp()
    sunday = dt.datetime(2026, 12, 13, 23, 59, tzinfo=dt.UTC).timestamp()
    assert period_of("week", sunday).key == "week:2026-W50"
    month = period_of("month", NOON)
    assert month.key == "month:2026-12"
    assert month.ends == dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
