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

import json
import logging
import time
from collections.abc import Callable, Sequence

from lockgate.errors import (
    AsyncInvocationNotFoundError,
    CircuitOpenError,
    FunctionNotFoundError,
    PoolClosedError,
    TooManyRequestsError,
)
from lockgate.gateways.interfaces import (
    NO_TRACER,
    IAsyncInvocationMetrics,
    IAsyncInvocationStore,
    ITracer,
)
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus
from lockgate.models.ids import new_request_id
from lockgate.models.invocation import InvocationResult
from lockgate.models.trace import TraceContext
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.registry import FunctionRegistry
from lockgate.use_cases.work_queue.backoff import Backoff
from lockgate.use_cases.work_queue.dispatcher import Outcome, QueueDispatcher, QueueItem

__all__ = ["AsyncInvocationQueue"]

logger = logging.getLogger(__name__)

# Beyond the longest function timeout: a lease must outlast the attempt it covers.
_LEASE_MARGIN_S = 30.0
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
        tracer: Whose current span an accepted invocation is stored with, so that its
            attempts' spans join the request's trace.
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
        tracer: ITracer = NO_TRACER,
    ) -> None:
        self._store = store
        self._tracer = tracer
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
        self._per_function: dict[str, int] = {}
        self._dispatcher = self._new_dispatcher()
        self._opened = False

    def _new_dispatcher(self) -> QueueDispatcher[AsyncInvocation]:
        return QueueDispatcher(
            self._store.queue,
            what="Event invocations",
            node_id=self._node_id,
            read=_item,
            run=self._attempt,
            settled=self._settled,
            max_attempts=self._max_retries + 1,
            backoff=Backoff(self._retry_delay),
            lease_seconds=self._lease_seconds,
            poll_interval=self._poll_interval,
            capacity=self._concurrency,
            clock=self._clock,
            max_age=self._max_event_age,
            saturated=self._saturated,
            admit=self._admit,
            retention=self._retention,
            hand_back=True,
        )

    @property
    def in_flight(self) -> int:
        """Attempts running on this gateway now."""
        return self._dispatcher.in_flight

    async def start(self) -> None:
        """Open the store, take back what this node held when it last stopped, and start
        running what is due.

        Raises:
            RunStoreError: The store cannot be opened.
        """
        await self._store.open()
        self._opened = True
        self._per_function = {}  # attempts a stop cancelled before they began left counts
        self._dispatcher = self._new_dispatcher()  # a restart claims at once
        await self._dispatcher.start()

    async def stop(self, grace: float) -> None:
        """Stop claiming, give running attempts ``grace`` seconds, cancel the rest (their
        invocations run again later, their attempts not counted: at-least-once), then
        close the store."""
        if self._opened:
            self._opened = False
            await self._dispatcher.stop(grace)
            await self._store.close()

    async def submit(
        self,
        function: str,
        payload: bytes,
        qualifier: str | None = None,
        *,
        request_id: str | None = None,
        trace: TraceContext | None = None,
    ) -> str:
        """Accept an invocation of ``function``; returns its request id (``request_id``, or
        a new one) once it is stored. Its attempts' spans join the current span's trace
        (the request's), else ``trace`` (a caller's ``traceparent``, tracing off here).

        Raises:
            FunctionNotFoundError: No function by that name.
            TooManyRequestsError: ``function`` has ``max_queued`` invocations queued.
            RunStoreError: It could not be stored (nothing was accepted).
        """
        self._registry.get(function)
        now = self._clock()
        request_id = request_id or new_request_id()
        trace = self._tracer.current().context() or trace
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
                trace=trace.traceparent if trace is not None else None,
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
        self._dispatcher.kick()
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
            self._dispatcher.kick()
        return ids

    # -- what the dispatcher asks ------------------------------------------------------------

    def _admit(self, item: QueueItem[AsyncInvocation]) -> bool:
        """Start an attempt, unless its function already runs as many as it has workers."""
        name = item.group
        running = self._per_function.get(name, 0)
        if name in self._registry and running >= self._registry.get(name).scaling.max_capacity:
            return False
        self._per_function[name] = running + 1
        return True

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

    async def _attempt(self, invocation: AsyncInvocation) -> Outcome:
        """Run one attempt; how it ended."""
        try:
            return await self._run_once(invocation)
        finally:
            left = self._per_function[invocation.function] - 1
            if left:
                self._per_function[invocation.function] = left
            else:
                del self._per_function[invocation.function]

    async def _run_once(self, invocation: AsyncInvocation) -> Outcome:
        try:
            result = await self._invoker.invoke_function(
                invocation.function,
                invocation.payload,
                request_id=invocation.request_id,
                qualifier=invocation.qualifier,
                trace=TraceContext.from_traceparent(invocation.trace),
            )
        except FunctionNotFoundError as exc:
            return Outcome.failure(exc.message, final=True)
        return _outcome(result)

    def _settled(
        self, item: QueueItem[AsyncInvocation], _outcome: Outcome, fate: str, _: float | None
    ) -> None:
        if self._metrics is not None:
            self._metrics.async_attempt_finished(item.group, fate)
        if fate == "dead":
            logger.warning(
                "Event invocation %s of %s is dead after %d attempts",
                item.key,
                item.group,
                item.value.attempts,
            )


def _item(invocation: AsyncInvocation) -> QueueItem[AsyncInvocation]:
    return QueueItem(
        invocation.request_id,
        invocation.function,
        invocation.attempts,
        invocation.created_at,
        invocation,
    )


def _outcome(result: InvocationResult) -> Outcome:
    """A finished attempt's outcome: refused before running (throttled, breaker open, pool
    closing) is put off uncounted; a function error is a failure with its error object."""
    if result.success:
        return Outcome.success()
    error = result.failure
    if isinstance(error, TooManyRequestsError | CircuitOpenError | PoolClosedError):
        delay = max(float(error.fields.get("retry_after", 0)), _MIN_REFUSED_DELAY_S)
        return Outcome.put_off(error.message, delay)
    if error is None:  # the handler raised: its error object is the payload
        return Outcome.failure((result.payload or b"").decode(errors="replace"))
    return Outcome.failure(json.dumps({"errorType": error.code, "errorMessage": error.message}))
