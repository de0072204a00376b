"""The event bus between modules: ``publish`` and ``subscribe``, where a subscriber that
raises, hangs or dies with its process never stops the others nor loses the event.

Without a store, deliveries live in memory: one task per subscriber, retried with
exponential backoff, and what exhausts its attempts is kept as a dead letter. With an
``IEventStore`` (an outbox beside the runs), ``publish`` records the event and one delivery
per subscriber in one write before any handler runs; deliveries are then claimed with a
lease, completed, retried when due, or left dead, so a restarted gateway delivers what a
killed one left. Delivery is at-least-once in both modes: handlers deduplicate on
``current_event().event_id``.

A publisher whose own code writes to the event store's PostgreSQL database passes its
connection (``publish(..., connection=conn)``): the event is then recorded inside the
publisher's transaction (a transactional outbox) and commits or rolls back with its writes;
the poller delivers it once committed.

Handlers take the event's data, as the seed's do (``handler(event_data)``); the bus adds
nothing to it. Sync handlers run in the bus's own bounded thread pool so a slow one cannot
block the loop; their timeout starts when a thread picks them up, so a backlog queued
behind slow or hung handlers waits rather than timing out. A timed-out one is no longer
waited for, but its thread cannot be killed and runs on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any

from lockgate.errors import DeliveryNotFoundError, ModuleCallError
from lockgate.gateways.interfaces import NO_TRACER, IEventStore, ITracer
from lockgate.json_codec import dumps, loads
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord
from lockgate.models.ids import new_run_id
from lockgate.use_cases.events.delivery import (
    DeliveryCounts,
    Publication,
    RetryPolicy,
    Subscription,
    current_event,
    deliver_in_memory,
)
from lockgate.use_cases.events.outbox import OutboxDispatcher

__all__ = ["EventBus", "Publication", "current_event"]  # current_event: for handlers

logger = logging.getLogger("lockgate.events")

_DEAD_LETTERS = 1000  # in-memory dead letters kept (the newest)


class EventBus:
    """Publish/subscribe between modules, in memory or durable.

    Args:
        store: The outbox for durable events (opened and closed by its owner); None keeps
            deliveries in memory only.
        node_id: This gateway's name as the owner of claimed deliveries.
        max_attempts: Attempts per delivery before it is dead.
        backoff: Seconds before the first retry, doubled for each further one...
        max_backoff: ...up to this.
        delivery_timeout: Seconds one handler call may take, from when it starts running.
        lease_seconds: How long a claimed delivery is this node's; a handler still running
            past it may be delivered again by another node (at-least-once).
        poll_interval: Seconds between claims of due deliveries (durable).
        handler_threads: Threads running sync handlers (one each at a time).
        max_in_flight: The most claimed deliveries under way at once (durable).
        known_modules: The declared modules' names; subscribing or publishing as another
            module is refused.
        clock: Unix seconds, for event times, claims and retries.
        retention: Seconds a completed delivery (and its event, with its last one) is
            kept before the dispatcher purges it, hourly (durable); None keeps them.
        tracer: Makes a span for each delivery attempt (``deliver NAME``); an in-memory
            delivery's is a child of the span that published the event.

    Raises:
        ValueError: A number is out of range or ``node_id`` is empty (the message names it).
    """

    def __init__(
        self,
        store: IEventStore | None = None,
        *,
        node_id: str = "local",
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        delivery_timeout: float = 30.0,
        lease_seconds: float = 10.0,
        poll_interval: float = 0.5,
        handler_threads: int = 16,
        max_in_flight: int = 256,
        known_modules: Callable[[], Collection[str]] | None = None,
        clock: Callable[[], float] = time.time,
        retention: float | None = None,
        tracer: ITracer = NO_TRACER,
    ) -> None:
        _require_name("node_id", node_id)
        self._tracer = tracer
        self._policy = RetryPolicy(max_attempts, backoff, max_backoff, delivery_timeout)
        for name, value in (("lease_seconds", lease_seconds), ("poll_interval", poll_interval)):
            if not value > 0:
                raise ValueError(f"{name} must be more than zero seconds, got {value}")
        for name, count in (("handler_threads", handler_threads), ("max_in_flight", max_in_flight)):
            if not isinstance(count, int) or count < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {count!r}")
        self._store = store
        self._node_id = node_id
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._handler_threads = handler_threads
        self._max_in_flight = max_in_flight
        self._known_modules = known_modules
        self._clock = clock
        self._retention = retention
        self._lock = threading.Lock()  # subscribe and publish may come from any thread
        self._subscriptions: dict[str, Subscription] = {}
        self._by_event: dict[str, tuple[Subscription, ...]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._outbox: OutboxDispatcher | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dead_letters: deque[Delivery] = deque(maxlen=_DEAD_LETTERS)
        self._published = 0
        self._counts = DeliveryCounts()

    def __repr__(self) -> str:
        mode = "durable" if self._store is not None else "in memory"
        return f"EventBus({mode}, {len(self._subscriptions)} subscribers)"

    def subscribe(self, event: str, handler: Callable[[Any], Any], module: str) -> str:
        """Call ``handler(data)`` for every ``event`` published from now on.

        Args:
            event: The event's name.
            handler: A sync or async callable taking the event's data.
            module: The subscribing module.

        Returns:
            The subscriber id ``module:event:handler-qualname``; durable deliveries name it,
            so it must stay the same across restarts.

        Raises:
            TypeError: ``handler`` is not callable.
            ModuleCallError: ``module`` is not a declared module.
            ValueError: The id is already subscribed with a different handler.
        """
        _require_name("event", event)
        _require_name("module", module)
        if not callable(handler):
            raise TypeError(
                f"the handler module {module!r} subscribes to {event!r} is not callable: "
                f"{type(handler).__name__}"
            )
        self._check_module(module)
        qualname = getattr(handler, "__qualname__", None) or type(handler).__qualname__
        subscriber_id = f"{module}:{event}:{qualname}"
        is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            type(handler).__call__
        )
        with self._lock:
            existing = self._subscriptions.get(subscriber_id)
            if existing is not None:
                if existing.handler == handler:
                    return subscriber_id
                raise ValueError(
                    f"subscriber {subscriber_id!r} is already subscribed with another handler "
                    "(a second instance of its class?); unsubscribe it first"
                )
            subscription = Subscription(subscriber_id, event, module, handler, is_async)
            self._subscriptions[subscriber_id] = subscription
            self._by_event[event] = (*self._by_event.get(event, ()), subscription)
        return subscriber_id

    def unsubscribe(self, subscriber_id: str) -> None:
        """Stop delivering to ``subscriber_id``'s handler; deliveries already under way go on.

        Raises:
            ValueError: Nothing is subscribed under that id.
        """
        with self._lock:
            subscription = self._subscriptions.pop(subscriber_id, None)
            if subscription is None:
                raise ValueError(f"no subscriber {subscriber_id!r} to unsubscribe")
            rest = tuple(s for s in self._by_event[subscription.event] if s is not subscription)
            if rest:
                self._by_event[subscription.event] = rest
            else:
                del self._by_event[subscription.event]

    def publish(
        self, event: str, data: Any, source_module: str, *, connection: object | None = None
    ) -> Publication:
        """Deliver ``event`` with a copy of ``data`` to its current subscribers.

        Callable from the bus's event loop or from any other thread.

        Args:
            event: The event's name.
            data: JSON data, copied now.
            source_module: The publishing module.
            connection: The publisher's own asyncpg connection to the event store's
                PostgreSQL database (the transactional outbox): awaiting the publication
                records the event on it, inside the caller's open transaction, so it commits
                or rolls back with the caller's writes. Needs a durable bus on PostgreSQL.
                Nothing is delivered before the commit; the poller then finds it within
                ``poll_interval``.

        Returns:
            The publication: its ``event_id`` now; await it to know the event is recorded
            (with ``connection``, await it or nothing is recorded; the store's refusals of
            the connection are raised there).

        Raises:
            TypeError: ``data`` is not JSON (the message names the event).
            ValueError: ``connection`` was given to a bus that keeps events in memory.
            ModuleCallError: ``source_module`` is not a declared module.
            RuntimeError: The bus is not started.

        Side Effects:
            Schedules the recording and the deliveries on the bus's event loop; with
            ``connection``, the recording happens in the awaiting task instead.
        """
        _require_name("event", event)
        _require_name("source_module", source_module)
        self._check_module(source_module)
        store = self._store
        if connection is not None and store is None:
            raise ValueError(
                f"cannot publish {event!r} with connection=: this event bus has no event "
                "store (it keeps events in memory: durable_events is off); only a durable bus "
                "on PostgreSQL can join the caller's transaction"
            )
        try:
            text = dumps(data)
        except TypeError as exc:
            raise TypeError(f"data of event {event!r} is not JSON: {exc}") from None
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError(f"the event bus is not started: cannot publish {event!r}")
        # The span it is published in, kept with it: its deliveries join that trace, even
        # from the store, after a restart or on another node.
        trace = self._tracer.current().context() if self._tracer.enabled else None
        record = EventRecord(
            new_run_id(),
            event,
            loads(text),
            source_module,
            self._clock(),
            trace.traceparent if trace is not None else None,
        )
        subscribers = self._by_event.get(event, ())  # a snapshot: the tuple is never changed
        with self._lock:
            self._published += 1
        if connection is not None and store is not None:
            # Recorded when awaited, in the caller's task; nothing to dispatch here: the rows
            # stay invisible to the poller until the caller commits.
            ids = [subscription.id for subscription in subscribers]
            recording = _record_on_connection(store, record, ids, connection)
            return Publication(record.event_id, recording)
        if _running_loop() is loop:
            if self._store is None:
                self._spawn_in_memory(record, text, subscribers)
                done: asyncio.Future[str] = loop.create_future()
                done.set_result(record.event_id)
                return Publication(record.event_id, done)
            task = loop.create_task(self._accept(record, text, subscribers))
            task.add_done_callback(_retrieve)  # failures are logged; awaiting is optional
            return Publication(record.event_id, task)
        accept = self._accept(record, text, subscribers)
        try:
            return Publication(record.event_id, asyncio.run_coroutine_threadsafe(accept, loop))
        except RuntimeError:  # the loop closed meanwhile
            accept.close()
            raise RuntimeError(f"the event bus is not started: cannot publish {event!r}") from None

    async def start(self) -> None:
        """Accept publications on the running loop; when durable, claim due deliveries at
        once (what a previous process left) and then every ``poll_interval``."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            self._handler_threads, thread_name_prefix="lockgate-events"
        )
        if self._store is not None:
            self._outbox = OutboxDispatcher(
                self._store,
                node_id=self._node_id,
                lease_seconds=self._lease_seconds,
                poll_interval=self._poll_interval,
                policy=self._policy,
                max_in_flight=self._max_in_flight,
                counts=self._counts,
                subscription=self._subscriptions.get,
                executor=self._executor,
                clock=self._clock,
                retention=self._retention,
                tracer=self._tracer,
            )
            await self._outbox.start()

    async def stop(self, grace: float = 5.0) -> None:
        """Refuse new publications, stop claiming, wait up to ``grace`` seconds for the
        deliveries under way and cancel the rest (durable ones are delivered again after
        their lease; in-memory ones are lost, and logged), then shut the sync handlers' thread
        pool down without waiting for hung ones. Idempotent."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        outbox, self._outbox = self._outbox, None
        deadline = loop.time() + max(grace, 0.0)
        if outbox is not None and (cut_short := await outbox.stop(grace)):
            logger.warning(
                "stopping with %d event deliveries unfinished: delivered again later", cut_short
            )
        current = asyncio.current_task()
        while tasks := self._tasks - {current}:
            _, pending = await asyncio.wait(tasks, timeout=max(deadline - loop.time(), 0))
            if pending:
                fate = "delivered again later" if self._store is not None else "lost"
                logger.warning(
                    "stopping with %d event deliveries unfinished: %s", len(pending), fate
                )
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def dead_letters(self) -> list[Delivery]:
        """In-memory mode: the deliveries that exhausted their attempts, oldest first (the
        last 1000), each with its last error."""
        return list(self._dead_letters)

    async def deliveries(
        self,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        *,
        subscriber: str | None = None,
    ) -> list[Delivery]:
        """Deliveries oldest first (of ``subscriber``, when given): from the store when
        durable; in memory, the dead letters only.

        Raises:
            ValueError: ``limit`` is below 1.
            RunStoreError: The store failed.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if self._store is not None:
            return await self._store.deliveries(status, limit, subscriber=subscriber)
        if status not in (None, DeliveryStatus.DEAD):
            return []
        letters = (d for d in self._dead_letters if subscriber in (None, d.subscriber))
        return list(itertools.islice(letters, limit))

    @property
    def durable(self) -> bool:
        """Whether deliveries are kept in a store (and so can be shown and re-driven)."""
        return self._store is not None

    async def get_delivery(self, delivery_id: str) -> Delivery:
        """One durable delivery by its id (``event_id:subscriber``).

        Raises:
            DeliveryNotFoundError: None by that id (or it completed and was purged), or
                the bus keeps deliveries in memory.
            RunStoreError: The store failed.
        """
        found = None if self._store is None else await self._store.get_delivery(delivery_id)
        if found is None:
            raise DeliveryNotFoundError(
                f"no event delivery {delivery_id!r} (unknown, or completed and purged)",
                delivery_id=delivery_id,
            )
        return found

    async def redrive(
        self, delivery_ids: Sequence[str] | None = None, subscriber: str | None = None
    ) -> list[str]:
        """Make dead deliveries pending again (those named, else all dead ones of
        ``subscriber``, else all dead ones), their attempts counted afresh; returns their
        ids. In memory there is nothing to re-drive: dead letters are kept for reading.

        Raises:
            TypeError: ``delivery_ids`` is a single string or holds a non-string.
            RunStoreError: The store failed.
        """
        if self._store is None:
            return []
        ids = await self._store.redrive(self._clock(), delivery_ids, subscriber)
        if ids and self._outbox is not None:
            self._outbox.kick()
        return ids

    def stats(self) -> dict[str, int]:
        """Counters since construction: ``published``, ``delivered``, ``failed_attempts``,
        ``dead``, and ``in_flight`` (deliveries under way, retries waiting included)."""
        counts = self._counts
        return {
            "published": self._published,
            "delivered": counts.delivered,
            "failed_attempts": counts.failed_attempts,
            "dead": counts.dead,
            "in_flight": counts.in_flight,
        }

    def _check_module(self, module: str) -> None:
        if self._known_modules is None:
            return
        known = self._known_modules()
        if module not in known:
            raise ModuleCallError(
                f"unknown module {module!r}; the declared modules are {sorted(known)}",
                module=module,
            )

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:  # publish checked the loop; stop has just begun
            raise RuntimeError("the event bus is not started")
        return self._executor

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Start a task on the running loop that ``stop`` waits for."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(
        self, record: EventRecord, text: bytes, subscribers: tuple[Subscription, ...]
    ) -> str:
        if self._store is None:
            self._spawn_in_memory(record, text, subscribers)
            return record.event_id
        if not subscribers:
            return record.event_id
        task = asyncio.current_task()
        if task is not None:  # stop() waits for the recording too
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            await self._store.record(record, [s.id for s in subscribers])
        except Exception:
            logger.exception(
                "event %s (%s) from %s was not recorded",
                record.event_id,
                record.name,
                record.source_module,
            )
            raise
        if self._outbox is not None:
            self._outbox.kick()
        return record.event_id

    def _spawn_in_memory(
        self, record: EventRecord, text: bytes, subscribers: tuple[Subscription, ...]
    ) -> None:
        for subscription in subscribers:
            self._spawn(
                deliver_in_memory(
                    record,
                    text,
                    subscription,
                    policy=self._policy,
                    counts=self._counts,
                    dead_letters=self._dead_letters.append,
                    clock=self._clock,
                    executor=self._pool(),
                    tracer=self._tracer,
                )
            )


async def _record_on_connection(
    store: IEventStore, record: EventRecord, subscribers: list[str], connection: object
) -> str:
    await store.record(record, subscribers, connection=connection)
    return record.event_id


def _require_name(what: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a task's exception as seen (it was logged where it was raised)."""
    if not task.cancelled():
        task.exception()
