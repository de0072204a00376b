"""How the event bus delivers: one handler call within its timeout (sync handlers in a
worker thread), the event in a context variable, failures logged without the payload, the
durable outbox's dispatcher that claims due deliveries and stores their outcome, and the
``Publication`` that ``publish`` returns.

Apart from ``event_bus`` so each stays small; ``event_bus`` is the public face.
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

from lockgate.gateways.interfaces import IEventStore
from lockgate.json_codec import loads
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = [
    "DeliveryCounts",
    "Failure",
    "OutboxDispatcher",
    "Publication",
    "RetryPolicy",
    "Subscription",
    "call_handler",
    "current_event",
    "deliver_in_memory",
    "log_failure",
]

logger = logging.getLogger("lockgate.events")

_CLAIM_BATCH = 100  # deliveries claimed per store round trip
_MAX_ERROR = 2000  # characters of a handler's error kept and logged
_NO_SUBSCRIBER = "no subscriber registered"

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
        for name, value in (("backoff", self.backoff), ("max_backoff", self.max_backoff)):
            if not value >= 0:
                raise ValueError(f"{name} must be zero or more seconds, got {value}")
        if not self.timeout > 0:
            raise ValueError(f"delivery_timeout must be more than zero seconds, got {self.timeout}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.backoff * 2.0 ** min(attempt - 1, 60), self.max_backoff)


@dataclass(slots=True)
class DeliveryCounts:
    delivered: int = 0
    failed_attempts: int = 0
    dead: int = 0
    in_flight: int = 0  # under way, retries waiting included


async def call_handler(
    event: EventRecord, subscription: Subscription, time_limit: float
) -> Failure | None:
    """Call the handler once with ``event.data`` within ``time_limit`` seconds.

    Returns:
        None when it returned, else the failure.

    Note:
        A sync handler runs in a worker thread; on a timeout the bus stops waiting for it,
        but the thread cannot be killed and runs on.
    """
    token = _current.set(event)  # to_thread copies the context: sync handlers see it too
    deadline = asyncio.timeout(time_limit)
    try:
        async with deadline:
            if subscription.is_async:
                await subscription.handler(event.data)
            else:
                result = await asyncio.to_thread(subscription.handler, event.data)
                if inspect.isawaitable(result):
                    await result
    except Exception as exc:
        if isinstance(exc, TimeoutError) and deadline.expired():
            return f"timed out after {time_limit:g} s", None
        return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR], exc
    finally:
        _current.reset(token)
    return None


async def deliver_in_memory(
    record: EventRecord,
    text: bytes,
    subscription: Subscription,
    *,
    policy: RetryPolicy,
    counts: DeliveryCounts,
    dead_letters: Callable[[Delivery], None],
    clock: Callable[[], float],
) -> None:
    """Deliver ``record`` (its data as JSON ``text``) to one subscriber, retrying with
    backoff; a delivery that exhausts its attempts goes to ``dead_letters``."""
    counts.in_flight += 1
    try:
        for attempt in itertools.count(1):
            # A fresh copy each time: no subscriber or failed attempt sees another's edits.
            event = replace(record, data=loads(text))
            failure = await call_handler(event, subscription, policy.timeout)
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


class OutboxDispatcher:
    """Claims due deliveries from the store (when woken and every ``poll_interval``),
    delivers each in its own task and stores the outcome: completed, pending again after
    a backoff, or dead.

    Args:
        store: The outbox.
        node_id: The owner named on claims.
        lease_seconds: How long a claim lasts.
        poll_interval: Seconds between claims when nothing wakes the dispatcher.
        policy: Attempts, backoff and timeout.
        counts: The bus's counters, updated here.
        subscription: This process's subscription under an id, or None.
        spawn: Starts a delivery task that the bus tracks (``stop`` waits for it).
        clock: Unix seconds.
    """

    def __init__(
        self,
        store: IEventStore,
        *,
        node_id: str,
        lease_seconds: float,
        poll_interval: float,
        policy: RetryPolicy,
        counts: DeliveryCounts,
        subscription: Callable[[str], Subscription | None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._node_id = node_id
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._policy = policy
        self._counts = counts
        self._subscription = subscription
        self._spawn = spawn
        self._clock = clock
        self._wake = asyncio.Event()
        self._wake.set()  # the first claim at once: what a previous process left
        self._active: set[tuple[str, str]] = set()  # claimed deliveries running here
        self._failing = False

    def kick(self) -> None:
        """Claim as soon as possible (an event was just recorded, or a retry is due)."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver until cancelled."""
        while True:
            try:
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()  # before claiming: a publication during the claim wakes us
            while await self._claim() >= _CLAIM_BATCH:
                pass

    async def _claim(self) -> int:
        """Claim one batch of due deliveries and start delivering them; returns its size."""
        try:
            claimed = await self._store.claim_due(
                self._node_id, self._clock(), self._lease_seconds, _CLAIM_BATCH
            )
        except Exception:  # the dispatcher must outlive a store outage; it claims again later
            if not self._failing:
                logger.exception("claiming due event deliveries failed; retrying")
            self._failing = True
            return 0
        if self._failing:
            logger.info("claiming due event deliveries works again")
            self._failing = False
        for delivery in claimed:
            key = (delivery.event.event_id, delivery.subscriber)
            if key in self._active:
                continue  # still running here although its lease lapsed
            self._active.add(key)
            self._spawn(self._deliver(delivery, key))
        return len(claimed)

    async def _deliver(self, delivery: Delivery, key: tuple[str, str]) -> None:
        store, event, subscriber = self._store, delivery.event, delivery.subscriber
        self._counts.in_flight += 1
        try:
            subscription = self._subscription(subscriber)
            if subscription is None:
                # Not (yet) subscribed in this process: again one lease later, never dead.
                retry_at = self._clock() + self._lease_seconds
                await store.fail(event.event_id, subscriber, _NO_SUBSCRIBER, retry_at)
                logger.warning(
                    "event %s (%s) for %s: %s",
                    event.event_id,
                    event.name,
                    subscriber,
                    _NO_SUBSCRIBER,
                )
                return
            failure = await call_handler(event, subscription, self._policy.timeout)
            if failure is None:
                await store.complete(event.event_id, subscriber, self._clock())
                self._counts.delivered += 1
                return
            self._counts.failed_attempts += 1
            if delivery.attempts >= self._policy.max_attempts:
                await store.fail(event.event_id, subscriber, failure[0], None)
                self._counts.dead += 1
                log_failure(event, subscriber, delivery.attempts, failure, None)
                return
            delay = self._policy.delay(delivery.attempts)
            await store.fail(event.event_id, subscriber, failure[0], self._clock() + delay)
            log_failure(event, subscriber, delivery.attempts, failure, delay)
            asyncio.get_running_loop().call_later(delay, self.kick)  # claim it when due
        except Exception:  # the outcome was not stored: the lease lapses, it comes back
            logger.exception(
                "storing the outcome of event %s (%s) for %s failed; it will be delivered again",
                event.event_id,
                event.name,
                subscriber,
            )
        finally:
            self._counts.in_flight -= 1
            self._active.discard(key)
