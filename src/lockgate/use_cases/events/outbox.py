"""The durable outbox's dispatcher: claims due deliveries (no more than it may have under
way), delivers each in its own task and stores the outcome."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from lockgate.gateways.interfaces import IEventStore
from lockgate.models.event import Delivery
from lockgate.use_cases.events.delivery import (
    DeliveryCounts,
    HandlerNotStartedError,
    RetryPolicy,
    Subscription,
    call_handler,
    log_failure,
)

__all__ = ["OutboxDispatcher"]

logger = logging.getLogger("lockgate.events")

_CLAIM_BATCH = 100  # deliveries claimed per store round trip
_NO_SUBSCRIBER = "no subscriber registered"


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
        max_in_flight: The most claimed deliveries under way here at once; claims take no
            more, so a backlog is claimed as handlers get through it.
        counts: The bus's counters, updated here.
        subscription: This process's subscription under an id, or None.
        spawn: Starts a delivery task that the bus tracks (``stop`` waits for it).
        executor: Runs sync handlers.
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
        max_in_flight: int,
        counts: DeliveryCounts,
        subscription: Callable[[str], Subscription | None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        executor: concurrent.futures.Executor,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._node_id = node_id
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._policy = policy
        self._max_in_flight = max_in_flight
        # Once full, claim again when this much room is free (not per finished delivery).
        self._refill = max(1, min(_CLAIM_BATCH, max_in_flight // 4))
        self._full = False
        self._executor = executor
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
            while await self._claim():
                pass

    async def _claim(self) -> bool:
        """Claim due deliveries, as many as there is room for (at most one batch), and start
        delivering them; returns whether to claim again at once (more may be due)."""
        room = min(self._max_in_flight - len(self._active), _CLAIM_BATCH)
        if room <= 0:
            self._full = True  # a finishing delivery kicks once there is room
            return False
        try:
            claimed = await self._store.claim_due(
                self._node_id, self._clock(), self._lease_seconds, room
            )
        except Exception:  # the dispatcher must outlive a store outage; it claims again later
            if not self._failing:
                logger.exception("claiming due event deliveries failed; retrying")
            self._failing = True
            return False
        if self._failing:
            logger.info("claiming due event deliveries works again")
            self._failing = False
        for delivery in claimed:
            key = (delivery.event.event_id, delivery.subscriber)
            if key in self._active:
                continue  # still running here although its lease lapsed
            self._active.add(key)
            self._spawn(self._deliver(delivery, key))
        return len(claimed) >= room

    async def _deliver(self, delivery: Delivery, key: tuple[str, str]) -> None:
        store, event, subscriber = self._store, delivery.event, delivery.subscriber
        self._counts.in_flight += 1
        try:
            subscription = self._subscription(subscriber)
            if subscription is None:
                # Nobody here subscribes under that id (a handler renamed or a module gone:
                # subscriptions are made before delivery starts). Tried again one lease
                # later, on any node, until its attempts run out: then dead, and visible.
                dead = delivery.attempts >= self._policy.max_attempts
                retry_at = None if dead else self._clock() + self._lease_seconds
                await store.fail(event.event_id, subscriber, _NO_SUBSCRIBER, retry_at)
                logger.warning(
                    "event %s (%s) for %s: %s",
                    event.event_id,
                    event.name,
                    subscriber,
                    _NO_SUBSCRIBER,
                )
                return
            policy = self._policy
            try:
                failure = await call_handler(event, subscription, policy.timeout, self._executor)
            except HandlerNotStartedError:  # the bus is stopping: delivered after the lease
                return
            if failure is None:
                await store.complete(event.event_id, subscriber, self._clock())
                self._counts.delivered += 1
                return
            self._counts.failed_attempts += 1
            if delivery.attempts >= policy.max_attempts:
                await store.fail(event.event_id, subscriber, failure[0], None)
                self._counts.dead += 1
                log_failure(event, subscriber, delivery.attempts, failure, None)
                return
            delay = policy.delay(delivery.attempts)
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
            if self._full and self._max_in_flight - len(self._active) >= self._refill:
                self._full = False
                self.kick()
