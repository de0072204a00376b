"""ContainerPool: exclusive FIFO checkout with direct hand-off, bounded queue, coalesced starts,
reaping as a state transition, draining and closing."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from lockgate.errors import FunctionInitError, PoolClosedError, TooManyRequestsError
from lockgate.gateways.workers.memory import InMemoryWorkerLauncher
from lockgate.use_cases.functions.container_pool import ContainerPool
from lockgate.use_cases.functions.init_failures import InitFailures
from tests.support import ManualClock, eventually, make_function


async def _instant(event: Any) -> Any:
    return event


def make_pool(
    launcher: InMemoryWorkerLauncher | None = None, budget: int = 100, **scaling: int | float
) -> tuple[ContainerPool, InMemoryWorkerLauncher]:
    launcher = launcher or InMemoryWorkerLauncher(_instant)
    pool = ContainerPool(make_function(**scaling), launcher, asyncio.Semaphore(budget))
    return pool, launcher


def far() -> float:
    return time.monotonic() + 30


@pytest.mark.parametrize("round_", range(100))
async def test_100_concurrent_acquires_on_capacity_5_are_served_in_fifo_order(round_: int) -> None:
    pool, launcher = make_pool(max_capacity=5, max_queue=200)
    arrived: list[int] = []
    served: list[int] = []

    async def caller(index: int) -> None:
        arrived.append(index)
        worker, _ = await pool.acquire(far())
        served.append(index)
        await asyncio.sleep(0)  # a quick task
        pool.release(worker)

    await asyncio.gather(*(caller(i) for i in range(100)))  # raises on any TimeoutError
    assert served == arrived
    assert len(launcher.launched) == 5
    assert pool.stats().busy == 0
    await pool.close()


async def test_release_hands_the_worker_to_the_oldest_waiter_and_a_newcomer_cannot_barge() -> None:
    pool, _ = make_pool(max_capacity=1)
    worker, _ = await pool.acquire(far())
    first = asyncio.create_task(pool.acquire(far()))
    await asyncio.sleep(0)
    pool.release(worker)  # resolves the first waiter's future with the worker
    newcomer = asyncio.create_task(pool.acquire(far()))
    await asyncio.sleep(0)
    assert (await first)[0] is worker
    assert not newcomer.done()  # it queues behind, it does not steal
    pool.release(worker)
    assert (await newcomer)[0] is worker
    await pool.close()


async def test_a_waiter_cancelled_after_hand_off_passes_the_worker_on() -> None:
    pool, _ = make_pool(max_capacity=1)
    worker, _ = await pool.acquire(far())
    first = asyncio.create_task(pool.acquire(far()))
    second = asyncio.create_task(pool.acquire(far()))
    await asyncio.sleep(0)
    pool.release(worker)  # handed to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    got, _ = await asyncio.wait_for(second, 1)
    assert got is worker
    assert pool.stats().busy == 1
    await pool.close()


async def test_a_waiter_cancelled_before_hand_off_leaves_the_queue() -> None:
    pool, _ = make_pool(max_capacity=1)
    worker, _ = await pool.acquire(far())
    waiter = asyncio.create_task(pool.acquire(far()))
    await asyncio.sleep(0)
    assert pool.stats().queued == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pool.stats().queued == 0
    pool.release(worker)
    assert pool.stats().warm == 1
    await pool.close()


async def test_idle_workers_are_reused_most_recent_first() -> None:
    pool, _ = make_pool(max_capacity=2)
    a, _ = await pool.acquire(far())
    b, _ = await pool.acquire(far())
    pool.release(a)
    pool.release(b)
    assert (await pool.acquire(far()))[0] is b
    await pool.close()


async def test_a_full_queue_is_shed_with_retry_after() -> None:
    pool, _ = make_pool(max_capacity=1, max_queue=2)
    _worker, _ = await pool.acquire(far())
    waiters = [asyncio.create_task(pool.acquire(far())) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(TooManyRequestsError) as caught:
        await pool.acquire(far())
    assert caught.value.retry_after >= 1
    assert "max_queue 2" in caught.value.message
    await pool.close()
    for waiter in waiters:
        with pytest.raises(PoolClosedError):
            await waiter


async def test_a_wait_past_the_deadline_is_shed_not_hung() -> None:
    pool, _ = make_pool(max_capacity=1)
    await pool.acquire(far())
    with pytest.raises(TooManyRequestsError):
        await pool.acquire(time.monotonic() + 0.05)
    assert pool.stats().queued == 0
    await pool.close()


async def test_a_wait_that_would_outlast_the_deadline_is_refused_at_once(
    clock: ManualClock,
) -> None:
    launcher = InMemoryWorkerLauncher(_instant)
    pool = ContainerPool(make_function(max_capacity=1), launcher, asyncio.Semaphore(4), clock=clock)
    worker, _ = await pool.acquire(clock() + 30)
    clock.advance(10)  # the one checkout lasted 10 s: the average service time grows
    pool.release(worker)
    worker, _ = await pool.acquire(clock() + 30)
    with pytest.raises(TooManyRequestsError, match="would outlast the deadline"):
        await pool.acquire(clock() + 0.5)
    await pool.close()


async def test_cold_starts_are_coalesced_and_capped_by_capacity() -> None:
    launcher = InMemoryWorkerLauncher(_instant, start_delay=0.01)
    pool, _ = make_pool(launcher, max_capacity=3)
    results = await asyncio.gather(*(pool.acquire(far()) for _ in range(3)))
    assert len(launcher.launched) == 3
    assert all(cold for _, cold in results)
    for worker, _ in results:
        pool.release(worker)
    waiters = [asyncio.create_task(pool.acquire(far())) for _ in range(10)]
    await eventually(lambda: pool.stats().queued == 7)  # 3 served, 7 waiting: all decided
    assert len(launcher.launched) == 3  # warm workers serve; nothing new starts
    for task in waiters:
        worker, cold = await task
        assert not cold
        pool.release(worker)
    await pool.close()


async def test_the_start_budget_caps_simultaneous_starts_across_pools() -> None:
    launcher = InMemoryWorkerLauncher(_instant, start_delay=0.02)
    budget = asyncio.Semaphore(2)
    pools = [
        ContainerPool(make_function(f"f{i}", max_capacity=4), launcher, budget) for i in range(3)
    ]
    await asyncio.gather(*(pool.acquire(far()) for pool in pools for _ in range(4)))
    assert len(launcher.launched) == 12
    assert launcher.max_concurrent_starts == 2
    for pool in pools:
        await pool.close()


async def test_an_init_error_reaches_the_waiter_at_once_and_is_remembered() -> None:
    launcher = InMemoryWorkerLauncher(_instant)
    launcher.init_error = "No module named 'handlers'"
    pool, _ = make_pool(launcher)
    with pytest.raises(FunctionInitError, match="No module named"):
        await pool.acquire(far())
    assert pool.stats().last_init_error == "No module named 'handlers'"
    launcher.init_error = None
    worker, _ = await pool.acquire(far())
    assert pool.stats().last_init_error is None
    pool.release(worker)
    await pool.close()


async def test_an_init_error_is_logged_once_until_a_worker_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    launcher = InMemoryWorkerLauncher(_instant)
    launcher.init_error = "No module named 'handlers'"
    pool, _ = make_pool(launcher)
    caplog.set_level(logging.WARNING, logger="lockgate.use_cases.functions.init_failures")
    for _ in range(3):  # every caller's start fails the same way: one line, not three
        with pytest.raises(FunctionInitError):
            await pool.acquire(far())
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "function fn cannot start a worker: No module named 'handlers'"
    ]
    launcher.init_error = "No module named 'other'"  # a different error is news
    with pytest.raises(FunctionInitError):
        await pool.acquire(far())
    launcher.init_error = None
    worker, _ = await pool.acquire(far())
    pool.release(worker)
    launcher.init_error = "No module named 'other'"  # and so is the same one after a start
    pool.reap_idle(now=time.monotonic() + 10_000)
    with pytest.raises(FunctionInitError):
        await pool.acquire(far())
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors[1:] == ["function fn cannot start a worker: No module named 'other'"] * 2
    assert "fn starts workers again" in caplog.text
    await pool.close()


def test_an_init_error_is_logged_with_the_handlers_traceback_and_output(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = InitFailures("orders")
    error = FunctionInitError(
        "function 'orders' failed to initialise: Runtime.ImportModuleError: boom",
        error_type="Runtime.ImportModuleError",
        error_message="boom",
        stack_trace=('  File "handler.py", line 3, in <module>\n    import missing\n',),
        logs="loading settings\n",
    )
    with caplog.at_level(logging.ERROR):
        failures.failed(error)
    assert caplog.messages == [
        "function orders cannot start a worker: function 'orders' failed to initialise: "
        "Runtime.ImportModuleError: boom\n"
        "Traceback (most recent call last):\n"
        '  File "handler.py", line 3, in <module>\n'
        "    import missing\n"
        "Runtime.ImportModuleError: boom\n"
        "Output while initialising:\n"
        "loading settings"
    ]
    assert failures.last == error.message


async def test_an_unusable_worker_is_replaced_for_the_waiters() -> None:
    pool, launcher = make_pool(max_capacity=1)
    worker, _ = await pool.acquire(far())
    waiter = asyncio.create_task(pool.acquire(far()))
    await asyncio.sleep(0)
    pool.release(worker, reusable=False)
    replacement, cold = await asyncio.wait_for(waiter, 1)
    assert replacement is not worker
    assert cold
    assert not worker.alive
    assert len(launcher.launched) == 2
    await pool.close()


async def test_a_worker_that_died_while_idle_is_never_handed_out() -> None:
    pool, _launcher = make_pool(max_capacity=2)
    worker, _ = await pool.acquire(far())
    pool.release(worker)
    worker.kill()
    fresh, _ = await pool.acquire(far())
    assert fresh is not worker
    assert fresh.alive
    await pool.close()


async def test_the_janitor_transition_reaps_only_expired_idle_workers_above_min_warm(
    clock: ManualClock,
) -> None:
    launcher = InMemoryWorkerLauncher(_instant)
    function = make_function(max_capacity=4, min_warm=1, idle_ttl=60)
    pool = ContainerPool(function, launcher, asyncio.Semaphore(4), clock=clock)
    workers = [w for w, _ in await asyncio.gather(*(pool.acquire(clock() + 30) for _ in range(3)))]
    pool.release(workers[0])
    clock.advance(30)
    pool.release(workers[1])
    busy = workers[2]
    clock.advance(31)  # workers[0] idle 61 s, workers[1] idle 31 s
    assert pool.reap_idle() == 1
    assert not workers[0].alive
    assert workers[1].alive
    assert busy.alive
    clock.advance(100)
    assert pool.reap_idle() == 1  # workers[1] goes; the busy one keeps min_warm satisfied
    pool.release(busy)
    clock.advance(100)
    assert pool.reap_idle() == 0  # the last one is the min_warm worker
    assert pool.stats().warm == 1
    await pool.close()


async def test_ensure_min_warm_starts_the_deficit_once() -> None:
    pool, launcher = make_pool(max_capacity=4, min_warm=2)
    assert pool.ensure_min_warm() == 2
    assert pool.ensure_min_warm() == 0  # the two starting count as live
    await eventually(lambda: pool.stats().warm == 2)
    assert len(launcher.launched) == 2
    await pool.close()


async def test_drain_discards_idle_workers_and_waits_for_busy_ones() -> None:
    pool, _ = make_pool(max_capacity=2)
    idle, _ = await pool.acquire(far())
    busy, _ = await pool.acquire(far())
    pool.release(idle)
    drained = asyncio.create_task(pool.drain(5))
    await asyncio.sleep(0)
    assert not idle.alive
    assert not drained.done()
    pool.release(busy)
    assert await drained
    assert not busy.alive
    await pool.close()


async def test_close_fails_waiters_and_kills_every_worker() -> None:
    pool, launcher = make_pool(max_capacity=1)
    _worker, _ = await pool.acquire(far())
    waiter = asyncio.create_task(pool.acquire(far()))
    await asyncio.sleep(0)
    await pool.close()
    with pytest.raises(PoolClosedError):
        await waiter
    assert not any(w.alive for w in launcher.launched)
    with pytest.raises(PoolClosedError):
        await pool.acquire(far())
