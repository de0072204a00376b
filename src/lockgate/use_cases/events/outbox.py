"""The durable outbox's dispatcher: the shared ``QueueDispatcher`` over the event store's
deliveries, delivering each to its subscriber's handler and counting and logging how it
ended."""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable

from lockgate.gateways.interfaces import NO_TRACER, IEventStore, ITracer
from lockgate.models.event import Delivery
from lockgate.use_cases.events.delivery import (
    DeliveryCounts,
    Failure,
    HandlerNotStartedError,
    RetryPolicy,
    Subscription,
    call_handler,
    log_failure,
)
from lockgate.use_cases.work_queue.dispatcher import Outcome, QueueDispatcher, QueueItem

__all__ = ["OutboxDispatcher"]

logger = logging.getLogger("lockgate.events")

_NO_SUBSCRIBER = "no subscriber registered"


class OutboxDispatcher:
    """Claims due deliveries from the store (when woken and every ``poll_interval``),
    delivers each in its own task and stores the outcome: completed, pending again after
    a backoff, or dead. A delivery a stop cuts short comes back when its lease lapses.

    Args:
        store: The outbox.
        node_id: The owner named on claims.
        lease_seconds: How long a claim lasts.
        poll_interval: Seconds between claims when nothing wakes the dispatcher.
        policy: Attempts, backoff and timeout.
        max_in_flight: The most claimed deliveries under way here at once; claims take no
            more, so a backlog is claimed as handlers get through it.
        counts: The bus's counters, updated here.
        subscription: This process's subscription under an id, or None.
        executor: Runs sync handlers.
        clock: Unix seconds.
        retention: Seconds a completed delivery (and its event, with its last one) is
            kept; None keeps them.
        tracer: Makes a span for each delivery attempt.
    """

    def __init__(
        self,
        store: IEventStore,
        *,
        node_id: str,
        lease_seconds: float,
        poll_interval: float,
        policy: RetryPolicy,
        max_in_flight: int,
        counts: DeliveryCounts,
        subscription: Callable[[str], Subscription | None],
        executor: concurrent.futures.Executor,
        clock: Callable[[], float],
        retention: float | None = None,
        tracer: ITracer = NO_TRACER,
    ) -> None:
        self._tracer = tracer
        self._lease_seconds = lease_seconds
        self._policy = policy
        self._executor = executor
        self._counts = counts
        self._subscription = subscription
        self._failures: dict[str, Failure] = {}  # the last attempt's, for the log
        self._dispatcher = QueueDispatcher(
            store.queue,
            what="event deliveries",
            node_id=node_id,
            read=_item,
            run=self._deliver,
            settled=self._settled,
            max_attempts=policy.max_attempts,
            backoff=policy.waits,
            lease_seconds=lambda: lease_seconds,
            poll_interval=poll_interval,
            capacity=max_in_flight,
            clock=clock,
            retention=retention,
        )

    def kick(self) -> None:
        """Claim as soon as possible (an event was just recorded)."""
        self._dispatcher.kick()

    async def start(self) -> None:
        """Start claiming."""
        await self._dispatcher.start()

    async def stop(self, grace: float) -> int:
        """Stop claiming and give the deliveries under way ``grace`` seconds; returns how
        many were cut short (delivered again after their lease)."""
        return await self._dispatcher.stop(grace)

    async def _deliver(self, delivery: Delivery) -> Outcome:
        event, subscriber = delivery.event, delivery.subscriber
        self._counts.in_flight += 1
        try:
            subscription = self._subscription(subscriber)
            if subscription is None:
                # Nobody here subscribes under that id (a handler renamed or a module gone:
                # subscriptions are made before delivery starts). Tried again one lease
                # later, on any node, until its attempts run out: then dead, and visible.
                logger.warning(
                    "event %s (%s) for %s: %s",
                    event.event_id,
                    event.name,
                    subscriber,
                    _NO_SUBSCRIBER,
                )
                return Outcome.failure(_NO_SUBSCRIBER, retry_in=self._lease_seconds)
            policy = self._policy
            try:
                failure = await call_handler(
                    event, subscription, policy.timeout, self._executor, self._tracer
                )
            except HandlerNotStartedError:  # the bus is stopping: not an attempt
                return Outcome.put_off(None, self._lease_seconds)
            if failure is None:
                return Outcome.success()
            self._failures[delivery.id] = failure
            return Outcome.failure(failure[0])
        finally:
            self._counts.in_flight -= 1

    def _settled(
        self, item: QueueItem[Delivery], _outcome: Outcome, fate: str, retry_in: float | None
    ) -> None:
        failure = self._failures.pop(item.key, None)
        if fate == "succeeded":
            self._counts.delivered += 1
            return
        if failure is None:  # no subscriber, or put off: logged where it happened
            return
        self._counts.failed_attempts += 1
        if fate == "dead":
            self._counts.dead += 1
        log_failure(item.value.event, item.group, item.attempts, failure, retry_in)


def _item(delivery: Delivery) -> QueueItem[Delivery]:
    return QueueItem(
        delivery.id, delivery.subscriber, delivery.attempts, delivery.event.created_at, delivery
    )
