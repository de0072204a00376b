"""The circuit breaker: closed -> open on the failure rate, open -> half-open after the reset
timeout, exactly one probe, probe verdicts, and probes that end without a verdict."""

from __future__ import annotations

import pytest

from lockgate.models.pool import BreakerState
from lockgate.use_cases.functions.circuit_breaker import CircuitBreaker
from tests.support import ManualClock


def make(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(window=10, min_calls=4, failure_rate=0.5, reset_timeout=10, clock=clock)


def test_stays_closed_below_min_calls(clock: ManualClock) -> None:
    breaker = make(clock)
    for _ in range(3):
        assert breaker.try_acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_opens_when_the_failure_rate_reaches_the_threshold(clock: ManualClock) -> None:
    breaker = make(clock)
    for failed in (False, True, False, True):
        assert breaker.try_acquire()
        breaker.record_failure() if failed else breaker.record_success()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.try_acquire()
    assert breaker.retry_after() == 10


def test_successes_keep_the_rate_down(clock: ManualClock) -> None:
    breaker = make(clock)
    for index in range(30):
        assert breaker.try_acquire()
        breaker.record_failure() if index % 3 == 2 else breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def _open(breaker: CircuitBreaker) -> None:
    for _ in range(4):
        breaker.try_acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_half_open_admits_exactly_one_probe(clock: ManualClock) -> None:
    breaker = make(clock)
    _open(breaker)
    clock.advance(9.9)
    assert not breaker.try_acquire()
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    assert not breaker.try_acquire()


def test_a_successful_probe_closes_with_a_clean_window(clock: ManualClock) -> None:
    breaker = make(clock)
    _open(breaker)
    clock.advance(10)
    assert breaker.try_acquire()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.try_acquire()
    breaker.record_failure()  # one failure after closing does not reopen it
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_probe_reopens_for_another_full_timeout(clock: ManualClock) -> None:
    breaker = make(clock)
    _open(breaker)
    clock.advance(10)
    assert breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.advance(9)
    assert not breaker.try_acquire()
    clock.advance(1)
    assert breaker.try_acquire()


def test_a_probe_without_verdict_frees_the_slot(clock: ManualClock) -> None:
    breaker = make(clock)
    _open(breaker)
    clock.advance(10)
    assert breaker.try_acquire()
    breaker.release()
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"failure_rate": 0}, "failure_rate"), ({"min_calls": 50, "window": 10}, "min_calls")],
)
def test_bad_settings_are_refused_by_name(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]
