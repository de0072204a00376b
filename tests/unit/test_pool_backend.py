"""PoolInvocationBackend: one timer over the wait and the call, shed versus timed out, and the
timed-out worker never reused."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from lockgate.errors import InvocationTimeoutError, TooManyRequestsError
from lockgate.gateways.workers.memory import InMemoryWorkerLauncher
from lockgate.models.invocation import WorkerInvocation
from lockgate.use_cases.functions.pool_backend import PoolInvocationBackend
from lockgate.use_cases.functions.pool_manager import PoolManager
from tests.support import make_function


async def _sleepy(event: Any) -> Any:
    await asyncio.sleep(float(event["seconds"]))
    return {"slept": event["seconds"]}


def invocation(seconds: float) -> WorkerInvocation:
    payload = f'{{"seconds": {seconds}}}'.encode()
    return WorkerInvocation("r", payload, 0, "arn")


async def test_a_call_within_the_deadline_returns_and_leaves_no_cancellation_behind() -> None:
    launcher = InMemoryWorkerLauncher(_sleepy)
    manager = PoolManager(launcher)
    backend = PoolInvocationBackend(manager)
    reply, cold = await backend.invoke(make_function(), invocation(0), time.monotonic() + 0.2)
    assert reply.payload == b'{"slept": 0}'
    assert cold
    await asyncio.sleep(0.3)  # past the deadline: a stray timer would cancel us here
    await manager.close()


async def test_a_call_past_the_deadline_times_out_and_its_worker_is_discarded() -> None:
    launcher = InMemoryWorkerLauncher(_sleepy)
    manager = PoolManager(launcher)
    backend = PoolInvocationBackend(manager)
    with pytest.raises(InvocationTimeoutError, match=r"Task timed out after 30\.00 seconds"):
        await backend.invoke(make_function(), invocation(5), time.monotonic() + 0.2)
    assert not launcher.launched[0].alive
    assert manager.stats()[0].busy == 0
    await manager.close()


async def test_a_caller_still_waiting_at_the_deadline_is_shed_not_timed_out() -> None:
    launcher = InMemoryWorkerLauncher(_sleepy)
    manager = PoolManager(launcher)
    backend = PoolInvocationBackend(manager)
    function = make_function(max_capacity=1)
    running = asyncio.create_task(backend.invoke(function, invocation(0.5), time.monotonic() + 5))
    await asyncio.sleep(0.01)
    with pytest.raises(TooManyRequestsError, match="before the deadline"):
        await backend.invoke(function, invocation(0), time.monotonic() + 0.2)
    assert (await running)[0].payload == b'{"slept": 0.5}'
    assert manager.stats()[0].queued == 0
    await manager.close()


async def test_an_outside_cancellation_is_not_mistaken_for_the_deadline() -> None:
    launcher = InMemoryWorkerLauncher(_sleepy)
    manager = PoolManager(launcher)
    backend = PoolInvocationBackend(manager)
    call = asyncio.create_task(
        backend.invoke(make_function(), invocation(5), time.monotonic() + 10)
    )
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not launcher.launched[0].alive  # cancelled mid-call: never reused
    await manager.close()
