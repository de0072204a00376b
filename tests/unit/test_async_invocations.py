"""``AsyncInvocationQueue``: Event invocations stored, run, retried, dead and re-driven,
with a scripted backend standing in for worker processes and the in-memory store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from lockgate.errors import FunctionNotFoundError, InvocationTimeoutError, TooManyRequestsError
from lockgate.gateways.metrics.prometheus import PrometheusMetrics
from lockgate.gateways.stores.invocations.memory import InMemoryAsyncInvocationStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import HandlerError, WorkerInvocation, WorkerReply
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.registry import FunctionRegistry
from lockgate.use_cases.invocations.queue import AsyncInvocationQueue
from tests.support import eventually, make_function

OK = WorkerReply(b'{"ok": true}', None, b"", 0, 1.0)
RAISED = WorkerReply(b"", HandlerError("boom", "ValueError", ("trace",)), b"", 0, 1.0)


class ScriptedBackend:
    """Plays outcomes in order (the last one repeats); records every invocation."""

    def __init__(self, *outcomes: WorkerReply | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[WorkerInvocation] = []
        self.running = 0
        self.most_running = 0
        self.gate: asyncio.Event | None = None

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        self.calls.append(invocation)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome, False
        finally:
            self.running -= 1


class Clock:
    """Wall-clock time that a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def store() -> InMemoryAsyncInvocationStore:
    return InMemoryAsyncInvocationStore()


def make_queue(
    backend: ScriptedBackend,
    store: InMemoryAsyncInvocationStore,
    functions: tuple[FunctionEntity, ...] = (make_function("fn"),),
    **options: float,
) -> AsyncInvocationQueue:
    registry = FunctionRegistry(functions)
    invoker = LambdaInvoker(registry, backend, PrometheusMetrics())
    settings: dict[str, float] = {"retry_delay": 0.01, "poll_interval": 0.05, **options}
    return AsyncInvocationQueue(
        store,
        invoker,
        registry,
        node_id="node-a",
        max_retries=int(settings.pop("max_retries", 2)),
        concurrency=int(settings.pop("concurrency", 16)),
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
async def running() -> AsyncIterator[list[AsyncInvocationQueue]]:
    """Queues a test started; stopped at its end."""
    started: list[AsyncInvocationQueue] = []
    yield started
    for queue in started:
        await queue.stop(grace=1)


async def start(queue: AsyncInvocationQueue, running: list[AsyncInvocationQueue]) -> None:
    await queue.start()
    running.append(queue)


async def settled(queue: AsyncInvocationQueue, request_id: str) -> AsyncInvocation:
    async def status() -> AsyncInvocationStatus:
        return (await queue.get(request_id)).status

    async with asyncio.timeout(10):
        while await status() is AsyncInvocationStatus.QUEUED:  # noqa: ASYNC110 - a store poll
            await asyncio.sleep(0.005)
    return await queue.get(request_id)


async def test_an_accepted_invocation_runs_once_under_its_request_id(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    backend = ScriptedBackend(OK)
    queue = make_queue(backend, store)
    await start(queue, running)

    request_id = await queue.submit("fn", b'{"n": 1}', "$LATEST", request_id="req-1")

    done = await settled(queue, request_id)
    assert request_id == "req-1"
    assert done.status is AsyncInvocationStatus.SUCCEEDED
    assert done.attempts == 1
    assert [call.request_id for call in backend.calls] == ["req-1"]
    assert backend.calls[0].payload == b'{"n": 1}'
    assert backend.calls[0].invoked_function_arn.endswith(":fn:$LATEST")


async def test_an_unknown_function_is_refused_and_nothing_is_stored(
    store: InMemoryAsyncInvocationStore,
) -> None:
    queue = make_queue(ScriptedBackend(OK), store)
    with pytest.raises(FunctionNotFoundError):
        await queue.submit("nope", b"{}")
    assert await store.list_invocations() == []


async def test_a_handler_that_always_fails_is_tried_three_times_then_dead(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    backend = ScriptedBackend(RAISED)
    metrics = PrometheusMetrics()
    queue = make_queue(backend, store, metrics=metrics)  # type: ignore[arg-type]
    await start(queue, running)

    dead = await settled(queue, await queue.submit("fn", b"{}"))

    rendered = metrics.render().decode()
    assert (
        'lockgate_async_invocation_attempts_total{function="fn",outcome="retried"} 2.0' in rendered
    )
    assert 'lockgate_async_invocation_attempts_total{function="fn",outcome="dead"} 1.0' in rendered

    assert dead.status is AsyncInvocationStatus.DEAD
    assert dead.attempts == 3
    assert len(backend.calls) == 3
    assert json.loads(dead.error or "")["errorType"] == "ValueError"
    assert len({call.request_id for call in backend.calls}) == 1  # one id for all attempts


async def test_retries_follow_the_setting(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    backend = ScriptedBackend(RAISED)
    queue = make_queue(backend, store, max_retries=0)
    await start(queue, running)

    dead = await settled(queue, await queue.submit("fn", b"{}"))

    assert (dead.status, dead.attempts, len(backend.calls)) == (AsyncInvocationStatus.DEAD, 1, 1)


async def test_a_timeout_is_a_function_error_and_is_retried(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    timed_out = InvocationTimeoutError("Task timed out after 1.00 seconds")
    backend = ScriptedBackend(timed_out, OK)
    queue = make_queue(backend, store)
    await start(queue, running)

    done = await settled(queue, await queue.submit("fn", b"{}"))

    assert (done.status, done.attempts) == (AsyncInvocationStatus.SUCCEEDED, 2)


async def test_a_throttled_attempt_is_tried_again_without_counting(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    throttled = TooManyRequestsError("queue full", retry_after=0)
    backend = ScriptedBackend(throttled, throttled, throttled, OK)
    queue = make_queue(backend, store)
    await start(queue, running)

    done = await settled(queue, await queue.submit("fn", b"{}"))

    # Three refusals before it ran: none counted (three counted would have made it dead).
    assert (done.status, done.attempts) == (AsyncInvocationStatus.SUCCEEDED, 1)
    assert len(backend.calls) == 4


async def test_an_event_older_than_its_maximum_age_is_dead_instead_of_retried(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    clock = Clock()
    backend = ScriptedBackend(RAISED)
    queue = make_queue(backend, store, max_event_age=60, clock=clock)  # type: ignore[arg-type]
    backend.gate = asyncio.Event()
    await start(queue, running)
    request_id = await queue.submit("fn", b"{}")
    await eventually(lambda: backend.running == 1)

    clock.offset = 120  # the first attempt ends two minutes after the event arrived
    backend.gate.set()

    dead = await settled(queue, request_id)
    assert (dead.status, dead.attempts) == (AsyncInvocationStatus.DEAD, 1)


async def test_attempts_at_once_are_capped_by_the_concurrency(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    backend = ScriptedBackend(OK)
    backend.gate = asyncio.Event()
    queue = make_queue(backend, store, concurrency=3)
    await start(queue, running)
    ids = [await queue.submit("fn", b"{}") for _ in range(10)]
    await eventually(lambda: backend.running == 3)
    await asyncio.sleep(0.1)  # room for a fourth, if the cap let one through
    assert backend.running == 3

    backend.gate.set()

    for request_id in ids:
        assert (await settled(queue, request_id)).status is AsyncInvocationStatus.SUCCEEDED
    assert backend.most_running == 3


async def test_a_dead_invocation_is_redriven_with_its_attempts_afresh(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    backend = ScriptedBackend(RAISED, RAISED, RAISED, OK)
    queue = make_queue(backend, store)
    await start(queue, running)
    request_id = await queue.submit("fn", b"{}")
    assert (await settled(queue, request_id)).status is AsyncInvocationStatus.DEAD

    assert await queue.redrive(function="fn") == [request_id]

    done = await settled(queue, request_id)
    assert (done.status, done.attempts, done.error) == (AsyncInvocationStatus.SUCCEEDED, 1, None)


async def test_stopping_cuts_an_attempt_short_and_leaves_it_due_for_the_next_start(
    store: InMemoryAsyncInvocationStore,
) -> None:
    backend = ScriptedBackend(OK)
    backend.gate = asyncio.Event()
    queue = make_queue(backend, store)
    await queue.start()
    request_id = await queue.submit("fn", b"{}")
    await eventually(lambda: backend.running == 1)

    await queue.stop(grace=0.05)

    left = await store.get(request_id)
    assert left is not None
    assert left.status is AsyncInvocationStatus.QUEUED
    assert left.next_attempt_at <= time.time()  # released: due at once, not at lease end
    backend.gate.set()
    again = make_queue(backend, store)
    await again.start()
    try:
        done = await settled(again, request_id)
    finally:
        await again.stop(grace=1)
    assert done.status is AsyncInvocationStatus.SUCCEEDED
    assert done.attempts == 1  # a stop does not use up the event's retries


class GatedBackend(ScriptedBackend):
    """Holds invocations of ``held`` until the gate opens; others return at once."""

    def __init__(self, held: str) -> None:
        super().__init__(OK)
        self.held = held
        self.opened = asyncio.Event()
        self.ran: list[str] = []

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        if function.name == self.held:
            await self.opened.wait()
        self.ran.append(function.name)
        return OK, False


async def test_a_function_at_its_capacity_does_not_hold_back_the_others(
    store: InMemoryAsyncInvocationStore, running: list[AsyncInvocationQueue]
) -> None:
    backend = GatedBackend(held="slow")
    functions = (make_function("slow", max_capacity=1), make_function("fast"))
    queue = make_queue(backend, store, functions, concurrency=4)
    await start(queue, running)
    slow = [await queue.submit("slow", b"{}") for _ in range(6)]

    fast = await queue.submit("fast", b"{}")

    # The slow function's one worker is busy: its other five events stay queued, unclaimed,
    # and the fast function's event runs meanwhile.
    assert (await settled(queue, fast)).status is AsyncInvocationStatus.SUCCEEDED
    assert queue.in_flight == 1
    claimed = [await store.get(request_id) for request_id in slow]
    assert sorted(i.attempts for i in claimed if i is not None) == [0, 0, 0, 0, 0, 1]
    backend.opened.set()
    for request_id in slow:
        assert (await settled(queue, request_id)).status is AsyncInvocationStatus.SUCCEEDED
