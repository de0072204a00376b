"""``ClientRateLimiter``: token buckets per client, refilled at ``rate``, holding ``burst``."""

from __future__ import annotations

from lockgate.use_cases.auth.rate_limits import ClientRateLimiter
from tests.support import ManualClock


def test_a_client_gets_its_burst_then_the_rate(clock: ManualClock) -> None:
    limiter = ClientRateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 1  # empty: a token comes in 0.5 s, said as 1 whole second
    clock.advance(0.5)
    assert limiter.take("a") == 0
    assert limiter.take("a") == 1
    clock.advance(10)
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]  # refilled to burst only


def test_clients_do_not_share_a_bucket(clock: ManualClock) -> None:
    limiter = ClientRateLimiter(1.0, 1, clock=clock)
    assert limiter.take("a") == 0
    assert limiter.take("a") == 1
    assert limiter.take("b") == 0


def test_waiting_takes_nothing(clock: ManualClock) -> None:
    limiter = ClientRateLimiter(0.1, 1, clock=clock)
    assert limiter.waiting("a") == 0
    assert limiter.take("a") == 0
    assert limiter.waiting("a") == 10
    assert limiter.waiting("a") == 10
    clock.advance(10)
    assert limiter.waiting("a") == 0


def test_memory_is_bounded_dropping_full_buckets_first(clock: ManualClock) -> None:
    limiter = ClientRateLimiter(1.0, 5, clock=clock, max_clients=10)
    for n in range(10):
        limiter.take(f"idle-{n}")
    limiter.take("busy")  # full: room is made by dropping refilled buckets
    clock.advance(10)
    for n in range(50):
        limiter.take(f"new-{n}")
    assert len(limiter._buckets) <= 10
