"""How the event bus delivers: one handler call within its timeout (sync handlers in the
bus's bounded thread pool, timed from when a thread picks them up), the event in a context
variable, failures logged without the payload, and the ``Publication`` that ``publish``
returns (the durable outbox's dispatcher is in ``outbox``).

Apart from ``bus`` so each stays small; ``bus`` is the public face.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import itertools
import logging
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, replace
from typing import Any

from lockgate.gateways.interfaces import NO_TRACER, ITracer
from lockgate.json_codec import loads
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord
from lockgate.models.trace import SpanKind, TraceContext
from lockgate.use_cases.work_queue.backoff import Backoff

__all__ = [
    "DeliveryCounts",
    "Failure",
    "HandlerNotStartedError",
    "Publication",
    "RetryPolicy",
    "Subscription",
    "call_handler",
    "current_event",
    "deliver_in_memory",
    "log_failure",
]

logger = logging.getLogger("lockgate.events")

_MAX_ERROR = 2000  # characters of a handler's error kept and logged

_current: contextvars.ContextVar[EventRecord] = contextvars.ContextVar("lockgate_event")

Failure = tuple[str, BaseException | None]
"""A failed attempt: the error as kept and logged, and the exception (None on a timeout)."""


def current_event() -> EventRecord:
    """The event being delivered; valid inside a handler (sync ones too).

    Raises:
        RuntimeError: Called outside an event handler.
    """
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("current_event() is only valid inside an event handler") from None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    event: str
    module: str
    handler: Callable[[Any], Any]
    is_async: bool


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts per delivery, the backoff between them, and one attempt's time limit.

    Raises:
        ValueError: A value is out of range; the message names it.
    """

    max_attempts: int
    backoff: float
    max_backoff: float
    timeout: float

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        self.waits  # noqa: B018 - checks backoff and max_backoff
        if not self.timeout > 0:
            raise ValueError(f"delivery_timeout must be more than zero seconds, got {self.timeout}")

    @property
    def waits(self) -> Backoff:
        """The backoff between attempts (the one every queue uses)."""
        return Backoff(self.backoff, self.max_backoff)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.waits.delay(attempt)


@dataclass(slots=True)
class DeliveryCounts:
    delivered: int = 0
    failed_attempts: int = 0
    dead: int = 0
    in_flight: int = 0  # under way, retries waiting included


class HandlerNotStartedError(Exception):
    """A sync handler's call never started: the bus's thread pool was shut down (stopping).
    Not an attempt that failed."""


async def call_handler(
    event: EventRecord,
    subscription: Subscription,
    time_limit: float,
    executor: concurrent.futures.Executor,
    tracer: ITracer = NO_TRACER,
) -> Failure | None:
    """Call the handler once with ``event.data`` within ``time_limit`` seconds, inside a
    ``deliver NAME`` span when tracing is on (its handler's own spans are its children).

    A sync handler runs in ``executor``; its time limit starts when a thread picks it up,
    so time spent queued behind other handlers is not counted.

    Returns:
        None when it returned, else the failure.

    Raises:
        HandlerNotStartedError: The executor was shut down before the call started.

    Note:
        On a timeout the bus stops waiting for a sync handler, but its thread cannot be
        killed and runs on (holding one of the pool's threads).
    """
    if not tracer.enabled:
        return await _call_handler(event, subscription, time_limit, executor)
    attributes = {
        "messaging.system": "lockgate",
        "messaging.operation.type": "process",
        "messaging.destination.name": event.name,
        "messaging.message.id": event.event_id,
        "lockgate.subscriber": subscription.id,
    }
    with tracer.span(  # a child of the publisher's span (current, or stored with the event)
        f"deliver {event.name}",
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        parent=TraceContext.from_traceparent(event.trace),
    ) as span:
        failure = await _call_handler(event, subscription, time_limit, executor)
        if failure is not None:
            span.fail("timeout" if failure[1] is None else type(failure[1]).__name__)
        return failure


async def _call_handler(
    event: EventRecord,
    subscription: Subscription,
    time_limit: float,
    executor: concurrent.futures.Executor,
) -> Failure | None:
    token = _current.set(event)  # copied into the worker thread: sync handlers see it too
    deadline: asyncio.Timeout | None = None
    try:
        if subscription.is_async:
            async with (deadline := asyncio.timeout(time_limit)):
                await subscription.handler(event.data)
        else:
            call = await _start_in_thread(event, subscription, executor)
            async with (deadline := asyncio.timeout(time_limit)):
                result = await call
                if inspect.isawaitable(result):
                    await result
    except HandlerNotStartedError:
        raise
    except Exception as exc:
        if isinstance(exc, TimeoutError) and deadline is not None and deadline.expired():
            return f"timed out after {time_limit:g} s", None
        return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR], exc
    finally:
        _current.reset(token)
    return None


async def _start_in_thread(
    event: EventRecord, subscription: Subscription, executor: concurrent.futures.Executor
) -> asyncio.Future[Any]:
    """Submit the sync handler's call and wait until a thread has picked it up.

    Returns:
        The call's outcome, to await within the time limit.

    Raises:
        HandlerNotStartedError: The executor is (or was meanwhile) shut down.

    Side Effects:
        Cancelling the waiting task withdraws a call still queued.
    """
    loop = asyncio.get_running_loop()
    started: asyncio.Future[None] = loop.create_future()  # set from the worker thread
    context = contextvars.copy_context()

    def run() -> Any:
        loop.call_soon_threadsafe(_resolve, started)  # raises if the loop is gone: not run
        return context.run(subscription.handler, event.data)

    try:
        call = asyncio.wrap_future(executor.submit(run), loop=loop)
    except RuntimeError:  # shut down: the bus is stopping
        raise HandlerNotStartedError(f"event {event.event_id} for {subscription.id}") from None
    try:
        await asyncio.wait({started, call}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        call.cancel()  # withdrawn if still queued; a running one runs on
        raise
    if call.cancelled():  # never ran: shutdown(cancel_futures=True) withdrew it
        raise HandlerNotStartedError(f"event {event.event_id} for {subscription.id}")
    return call


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def deliver_in_memory(
    record: EventRecord,
    text: bytes,
    subscription: Subscription,
    *,
    policy: RetryPolicy,
    counts: DeliveryCounts,
    dead_letters: Callable[[Delivery], None],
    clock: Callable[[], float],
    executor: concurrent.futures.Executor,
    tracer: ITracer = NO_TRACER,
) -> None:
    """Deliver ``record`` (its data as JSON ``text``) to one subscriber, retrying with
    backoff; a delivery that exhausts its attempts goes to ``dead_letters``; sync handlers
    run in ``executor``. One the stopping bus never started is lost, and logged."""
    counts.in_flight += 1
    try:
        for attempt in itertools.count(1):
            # A fresh copy each time: no subscriber or failed attempt sees another's edits.
            event = replace(record, data=loads(text))
            try:
                failure = await call_handler(event, subscription, policy.timeout, executor, tracer)
            except HandlerNotStartedError:
                logger.warning(
                    "event %s (%s) for %s was not delivered: the event bus stopped",
                    record.event_id,
                    record.name,
                    subscription.id,
                )
                return
            if failure is None:
                counts.delivered += 1
                return
            counts.failed_attempts += 1
            if attempt >= policy.max_attempts:
                counts.dead += 1
                status, now = DeliveryStatus.DEAD, clock()
                dead_letters(Delivery(record, subscription.id, status, attempt, now, failure[0]))
                log_failure(record, subscription.id, attempt, failure, None)
                return
            delay = policy.delay(attempt)
            log_failure(record, subscription.id, attempt, failure, delay)
            await asyncio.sleep(delay)
    finally:
        counts.in_flight -= 1


def log_failure(
    event: EventRecord, subscriber: str, attempt: int, failure: Failure, retry_in: float | None
) -> None:
    """Log a failed attempt with its error and traceback, never the event's data."""
    error, exc = failure
    outcome = f"retrying in {retry_in:g} s" if retry_in is not None else "giving up: dead"
    logger.log(
        logging.WARNING if retry_in is not None else logging.ERROR,
        "event %s (%s) for %s failed on attempt %d, %s: %s",
        event.event_id,
        event.name,
        subscriber,
        attempt,
        outcome,
        error,
        exc_info=exc,
    )


class Publication:
    """What ``EventBus.publish`` returns.

    Without ``connection=``, awaiting it is optional: the bus records or hands the event
    out by itself. With ``connection=``, nothing is recorded until it is awaited: awaiting
    writes the event on that connection, inside the caller's transaction (an unawaited one
    records nothing, and Python warns of a coroutine never awaited).

    Attributes:
        event_id: The event's id, known at once.
    """

    __slots__ = ("_work", "event_id")

    def __init__(
        self,
        event_id: str,
        work: asyncio.Future[str] | concurrent.futures.Future[str] | Coroutine[Any, Any, str],
    ) -> None:
        self.event_id = event_id
        self._work = work

    def __repr__(self) -> str:
        return f"Publication({self.event_id!r})"

    def __await__(self) -> Generator[Any, None, str]:
        """Wait until the event is recorded (durable) or handed to its delivery tasks.

        Returns:
            ``event_id``.

        Raises:
            RunStoreError: Recording failed; nothing was recorded or will be delivered.
            ValueError, TypeError: The store refused ``connection`` (the message says why).
        """
        work = self._work
        if isinstance(work, concurrent.futures.Future):
            return (yield from asyncio.wrap_future(work).__await__())
        if isinstance(work, asyncio.Future):
            return (yield from work.__await__())
        return (yield from self._join(work).__await__())

    async def _join(self, work: Coroutine[Any, Any, str]) -> str:
        """Record on the caller's connection in the awaiting task, not a task of its own:
        the connection takes one operation at a time, in the caller's order."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._work = done  # a second await gets this one's outcome
        try:
            event_id = await work
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: raised here, so asyncio need not log it again
            raise
        except BaseException:
            done.cancel()
            raise
        done.set_result(event_id)
        return event_id
