"""``Event`` invocations: accepted durably, run by the function's pool, retried, or dead.

As AWS Lambda's asynchronous invocation: the caller gets 202 once the event is stored;
a function error (the handler raised, timed out, crashed or failed to start) is retried up
to ``max_retries`` times with a doubling delay, then the invocation is dead with its last
error, listed and re-drivable. A throttled attempt never reached the function: it is tried
again later without counting, until the event is older than ``max_event_age``. Every
attempt runs under the same request id, so a handler can drop duplicates (delivery is
at-least-once: a gateway that dies mid-attempt leaves it to be run again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from lockgate.errors import (
    AsyncInvocationNotFoundError,
    CircuitOpenError,
    FunctionNotFoundError,
    PoolClosedError,
    TooManyRequestsError,
)
from lockgate.gateways.interfaces import IAsyncInvocationMetrics, IAsyncInvocationStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from lockgate.models.ids import new_request_id
from lockgate.models.invocation import InvocationResult
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.registry import FunctionRegistry

__all__ = ["AsyncInvocationQueue"]

logger = logging.getLogger(__name__)

# Beyond the longest function timeout: a lease must outlast the attempt it covers.
_LEASE_MARGIN_S = 30.0
_PURGE_EVERY_S = 3600.0
# Refused before running (throttled, breaker open, pool closing): wait at least this long.
_MIN_REFUSED_DELAY_S = 1.0


class AsyncInvocationQueue:
    """Accepts ``Event`` invocations and runs them in the background.

    Args:
        store: Where invocations are kept.
        invoker: Runs one attempt (the same path as a synchronous invoke).
        registry: The functions; an invocation of one no longer declared is dead.
        node_id: This gateway's name on the leases it takes.
        max_retries: Retries after a function error (AWS allows 0-2).
        retry_delay: Seconds before the first retry; each further one waits twice as long.
        max_event_age: Seconds an invocation may wait for its attempts before it is dead.
        concurrency: Attempts running at once on this gateway.
        retention: Seconds a succeeded invocation is kept.
        max_queued: Invocations one function may have queued; one more is refused
            (``TooManyRequestsException``) until some have run.
        poll_interval: Seconds between looks for invocations due (others' or retries);
            an invocation accepted here is started at once.
        clock: Wall-clock seconds (the store's times).
        metrics: Where attempts' outcomes are counted.
    """

    def __init__(
        self,
        store: IAsyncInvocationStore,
        invoker: LambdaInvoker,
        registry: FunctionRegistry,
        *,
        node_id: str,
        max_retries: int = 2,
        retry_delay: float = 1.0,
        max_event_age: float = 21600.0,
        concurrency: int = 16,
        retention: float = 86400.0,
        max_queued: int = 100_000,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        metrics: IAsyncInvocationMetrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._invoker = invoker
        self._registry = registry
        self._node_id = node_id
        self._max_retries = max_retries
        self._retry_delay = retry_delay
        self._max_event_age = max_event_age
        self._concurrency = concurrency
        self._retention = retention
        self._max_queued = max_queued
        self._poll_interval = poll_interval
        self._clock = clock
        self._wake = asyncio.Event()
        self._running: dict[asyncio.Task[None], AsyncInvocation] = {}
        self._per_function: dict[str, int] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._opened = False

    @property
    def in_flight(self) -> int:
        """Attempts running on this gateway now."""
        return len(self._running)

    async def start(self) -> None:
        """Open the store, take back what this node held when it last stopped, and start
        running what is due.

        Raises:
            RunStoreError: The store cannot be opened.
        """
        await self._store.open()
        self._opened = True
        # A previous life of this node may have died holding leases: they are due now.
        await self._store.release(self._node_id, self._clock())
        self._dispatcher = asyncio.create_task(self._dispatch(), name="lockgate-async-invocations")

    async def stop(self, grace: float) -> None:
        """Stop claiming, give running attempts ``grace`` seconds, cancel the rest (their
        invocations run again later: at-least-once), then close the store."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=grace)
            cut_short = [self._running[task] for task in pending]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
            await self._give_back(cut_short)
        if self._opened:
            self._opened = False
            # Cancelled attempts are due again at once, here or on another node.
            with contextlib.suppress(Exception):
                await self._store.release(self._node_id, self._clock())
            await self._store.close()

    async def submit(
        self,
        function: str,
        payload: bytes,
        qualifier: str | None = None,
        *,
        request_id: str | None = None,
    ) -> str:
        """Accept an invocation of ``function``; returns its request id (``request_id``, or
        a new one) once it is stored.

        Raises:
            FunctionNotFoundError: No function by that name.
            TooManyRequestsError: ``function`` has ``max_queued`` invocations queued.
            RunStoreError: It could not be stored (nothing was accepted).
        """
        self._registry.get(function)
        now = self._clock()
        request_id = request_id or new_request_id()
        stored = await self._store.enqueue(
            AsyncInvocation(
                request_id=request_id,
                function=function,
                payload=payload,
                qualifier=qualifier,
                status=AsyncInvocationStatus.QUEUED,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            ),
            max_queued=self._max_queued,
        )
        if not stored:
            raise TooManyRequestsError(
                f"function {function!r} has {self._max_queued} Event invocations queued "
                "(async_max_queued); retry when some have run",
                retry_after=1,
                reason="EventQueueFull",
                function=function,
            )
        self._wake.set()
        return request_id

    async def get(self, request_id: str) -> AsyncInvocation:
        """One invocation.

        Raises:
            AsyncInvocationNotFoundError: None by that id (or it was purged).
        """
        invocation = await self._store.get(request_id)
        if invocation is None:
            raise AsyncInvocationNotFoundError(
                f"no Event invocation {request_id!r} (unknown, or succeeded and purged)",
                request_id=request_id,
            )
        return invocation

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        """Invocations, oldest first, optionally of one status and one function."""
        return await self._store.list_invocations(status, function, limit)

    async def redrive(
        self, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        """Queue dead invocations again (those named, else all dead ones of ``function``,
        else all dead ones) with their attempts counted afresh; returns the ids. Their age
        still counts from when they were accepted: one older than ``max_event_age`` gets a
        single attempt."""
        ids = await self._store.redrive(self._clock(), request_ids, function)
        if ids:
            self._wake.set()
        return ids

    async def _give_back(self, invocations: list[AsyncInvocation]) -> None:
        """Make claimed invocations due again at once, their claims not counted: those a
        stop cut short (most were still waiting for a worker, and a stop must not use up an
        event's retries; one that was running may run twice: delivery is at-least-once),
        and those claimed beyond what their function can run now."""
        now = self._clock()
        for invocation in invocations:
            await self._guard(
                self._store.fail(invocation.request_id, None, now, now, counted=False)
            )

    # -- the dispatcher ---------------------------------------------------------------------

    async def _dispatch(self) -> None:
        next_purge = 0.0
        while True:
            try:
                now = self._clock()
                if now >= next_purge:
                    next_purge = now + _PURGE_EVERY_S
                    await self._store.purge_succeeded(now - self._retention)
                free = self._concurrency - len(self._running)
                claimed = (
                    await self._store.claim_due(
                        self._node_id,
                        now,
                        self._lease_seconds(),
                        free,
                        skip_functions=self._saturated(),
                    )
                    if free > 0
                    else []
                )
            except Exception:  # the store failed: try again at the next poll
                logger.exception("claiming Event invocations failed")
                claimed = []
            over = [invocation for invocation in claimed if not self._launch(invocation)]
            if over:  # one claim can take more of a function than it has workers
                await self._give_back(over)
            if claimed and len(claimed) == free:
                continue  # there may be more due: look again as soon as a slot frees
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()

    def _launch(self, invocation: AsyncInvocation) -> bool:
        """Start an attempt, unless its function already runs as many as it has workers."""
        name = invocation.function
        running = self._per_function.get(name, 0)
        if name in self._registry and running >= self._registry.get(name).scaling.max_capacity:
            return False
        task = asyncio.create_task(self._attempt(invocation))
        self._running[task] = invocation
        self._per_function[name] = running + 1
        task.add_done_callback(self._finished)
        return True

    def _finished(self, task: asyncio.Task[None]) -> None:
        invocation = self._running.pop(task, None)
        if invocation is not None:
            left = self._per_function[invocation.function] - 1
            if left:
                self._per_function[invocation.function] = left
            else:
                del self._per_function[invocation.function]
        self._wake.set()  # a slot is free

    def _saturated(self) -> list[str]:
        """Functions with as many attempts running here as they have workers: claiming
        more of theirs would only hold slots other functions' events could use."""
        return [
            name
            for name, running in self._per_function.items()
            if name in self._registry and running >= self._registry.get(name).scaling.max_capacity
        ]

    def _lease_seconds(self) -> float:
        longest = max((f.timeout_seconds for f in self._registry.all()), default=0.0)
        return longest + _LEASE_MARGIN_S

    async def _attempt(self, invocation: AsyncInvocation) -> None:
        """Run one attempt and record its outcome; never raises (but for cancellation)."""
        try:
            result = await self._invoker.invoke_function(
                invocation.function,
                invocation.payload,
                request_id=invocation.request_id,
                qualifier=invocation.qualifier,
            )
        except FunctionNotFoundError as exc:
            await self._record(invocation, exc.message, retry_at=None)
            return
        await self._settle(invocation, result)

    async def _settle(self, invocation: AsyncInvocation, result: InvocationResult) -> None:
        if result.success:
            self._count(invocation, "succeeded")
            await self._guard(self._store.succeed(invocation.request_id, self._clock()))
            return
        error = result.failure
        if isinstance(error, TooManyRequestsError | CircuitOpenError | PoolClosedError):
            delay = max(float(error.fields.get("retry_after", 0)), _MIN_REFUSED_DELAY_S)
            await self._record(invocation, error.message, self._due_in(invocation, delay), False)
            return
        if error is None:  # the handler raised: its error object is the payload
            message = (result.payload or b"").decode(errors="replace")
        else:
            message = json.dumps({"errorType": error.code, "errorMessage": error.message})
        retry_at = None
        if invocation.attempts <= self._max_retries:
            delay = self._retry_delay * 2 ** (invocation.attempts - 1)
            retry_at = self._due_in(invocation, delay)
        await self._record(invocation, message, retry_at)

    def _due_in(self, invocation: AsyncInvocation, delay: float) -> float | None:
        """When to try again, or None when that would be past the event's maximum age."""
        retry_at = self._clock() + delay
        if retry_at - invocation.created_at > self._max_event_age:
            return None
        self._wake_at(delay)
        return retry_at

    def _wake_at(self, delay: float) -> None:
        # Retries are usually due before the next poll; look for them when they are.
        if delay < self._poll_interval:
            asyncio.get_running_loop().call_later(delay, self._wake.set)

    def _count(self, invocation: AsyncInvocation, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.async_attempt_finished(invocation.function, outcome)

    async def _record(
        self, invocation: AsyncInvocation, error: str, retry_at: float | None, counted: bool = True
    ) -> None:
        outcome = "dead" if retry_at is None else "retried" if counted else "deferred"
        self._count(invocation, outcome)
        if retry_at is None:
            logger.warning(
                "Event invocation %s of %s is dead after %d attempts",
                invocation.request_id,
                invocation.function,
                invocation.attempts,
            )
        await self._guard(
            self._store.fail(invocation.request_id, error, self._clock(), retry_at, counted=counted)
        )

    @staticmethod
    async def _guard(write: Awaitable[None]) -> None:
        """Record an outcome; a store failure leaves the lease to lapse (run again)."""
        try:
            await write
        except Exception:
            logger.exception("recording an Event invocation's outcome failed")
