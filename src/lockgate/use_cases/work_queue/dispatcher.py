"""``QueueDispatcher``: the one loop that works a leased queue (``IWorkQueueStore``). Woken
when an item is added or a slot frees, and every ``poll_interval`` otherwise, it claims up
to its free room, runs each item in a task of its own and settles it: done, waiting again
after a backoff, or dead after its last attempt (or when a retry would come after the
item's maximum age). Attempts that never reached their handler (throttled, cut short) are
handed back uncounted. Done items are purged after ``retention``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from lockgate.gateways.interfaces import IWorkQueueStore
from lockgate.use_cases.work_queue.backoff import Backoff

__all__ = ["Outcome", "QueueDispatcher", "QueueItem"]

logger = logging.getLogger("lockgate.work_queue")

T = TypeVar("T")

_CLAIM_BATCH = 100  # items claimed per store round trip
_PURGE_EVERY_S = 3600.0
_PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended, as its runner reports it.

    Attributes:
        error: Why it failed; None when it succeeded (or was put off with no new error).
        succeeded: It is done.
        retry_in: Seconds until the next attempt; None: the dispatcher's backoff.
        counted: False when the attempt never reached its handler: its claim is refunded.
        final: Dead now, whatever attempts are left.
    """

    error: str | None = None
    succeeded: bool = False
    retry_in: float | None = None
    counted: bool = True
    final: bool = False

    @classmethod
    def success(cls) -> Outcome:
        return cls(succeeded=True)

    @classmethod
    def failure(cls, error: str, *, retry_in: float | None = None, final: bool = False) -> Outcome:
        return cls(error=error, retry_in=retry_in, final=final)

    @classmethod
    def put_off(cls, error: str | None, retry_in: float) -> Outcome:
        """Not an attempt: tried again in ``retry_in`` seconds, its claim not counted."""
        return cls(error=error, retry_in=retry_in, counted=False)


@dataclass(frozen=True, slots=True)
class QueueItem(Generic[T]):
    """What the dispatcher reads of an item: its id, group, attempts and age.

    Attributes:
        key: The item's id in its queue.
        group: What ``saturated`` and ``admit`` count by (a function, a subscriber).
        attempts: Its attempts, this claim counted.
        created_at: Unix seconds it was accepted (``max_age`` counts from then).
        value: The item itself.
    """

    key: str
    group: str
    attempts: int
    created_at: float
    value: T


class QueueDispatcher(Generic[T]):
    """Claims due items of ``queue``, runs them and stores how they ended.

    Args:
        queue: The leased queue.
        what: The items' name in logs (``event deliveries``).
        node_id: The owner named on claims.
        read: The ``QueueItem`` of a claimed item.
        run: One attempt; returns its ``Outcome`` (raising is a failure, logged).
        settled: Called with each attempt's item, outcome, fate (``succeeded``,
            ``retried``, ``deferred``, ``dead``) and seconds to its retry (None: none)
            once it is stored (so a count of delivered items means stored completions,
            and an outcome the store lost is not counted: the item comes back): counts
            and logs.
        max_attempts: Counted attempts before an item is dead.
        backoff: The wait after a failed attempt.
        lease_seconds: How long a claim lasts (asked at every claim).
        poll_interval: Seconds between claims when nothing wakes the dispatcher.
        capacity: The most items under way here at once; claims take no more.
        clock: Unix seconds (the store's times).
        max_age: Seconds from ``created_at`` past which an item is dead, not retried.
        saturated: Groups it cannot run more of now (skipped by claims).
        admit: Whether a claimed item may start now; one refused is handed back uncounted.
        retention: Seconds a done item is kept; None never purges.
        hand_back: On stop, hand back the attempts cut short (uncounted, due at once) and
            release this node's leases; on start, release what it held before. Without it,
            cut-short items come back when their lease lapses.
    """

    def __init__(
        self,
        queue: IWorkQueueStore[T],
        *,
        what: str,
        node_id: str,
        read: Callable[[T], QueueItem[T]],
        run: Callable[[T], Awaitable[Outcome]],
        settled: Callable[[QueueItem[T], Outcome, str, float | None], None],
        max_attempts: int,
        backoff: Backoff,
        lease_seconds: Callable[[], float],
        poll_interval: float,
        capacity: int,
        clock: Callable[[], float],
        max_age: float | None = None,
        saturated: Callable[[], Collection[str]] = tuple,
        admit: Callable[[QueueItem[T]], bool] | None = None,
        retention: float | None = None,
        hand_back: bool = False,
    ) -> None:
        self._queue = queue
        self._what = what
        self._node_id = node_id
        self._read, self._run, self._settled = read, run, settled
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._capacity = capacity
        self._clock = clock
        self._max_age = max_age
        self._saturated = saturated
        self._admit = admit
        self._retention = retention
        self._hand_back = hand_back
        # Once full, claim again when this much room is free (not per finished item).
        self._refill = max(1, min(_CLAIM_BATCH, capacity // 4))
        self._full = False
        self._wake = asyncio.Event()
        self._wake.set()  # the first claim at once: what a previous process left
        self._running: dict[asyncio.Task[None], QueueItem[T]] = {}
        self._keys: set[str] = set()
        self._skipped: frozenset[str] = frozenset()  # groups the last claim skipped
        self._loop_task: asyncio.Task[None] | None = None
        self._failing = False
        self._next_purge = 0.0

    @property
    def in_flight(self) -> int:
        """Items under way here now."""
        return len(self._running)

    def kick(self) -> None:
        """Claim as soon as possible (an item was just added, or a retry is due)."""
        self._wake.set()

    async def start(self) -> None:
        """Start claiming (after taking back what this node held, with ``hand_back``).

        Raises:
            RunStoreError: Releasing the leases failed.
        """
        if self._hand_back:
            # A previous life of this node may have died holding leases: they are due now.
            await self._queue.release(self._node_id, self._clock())
        self._loop_task = asyncio.create_task(self._loop(), name=f"lockgate-{self._what}")

    async def stop(self, grace: float) -> int:
        """Stop claiming, give the items under way ``grace`` seconds, cancel the rest (with
        ``hand_back``, handed back uncounted and due at once; else due when their lease
        lapses: at-least-once either way). Returns how many were cut short."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        cut_short: list[QueueItem[T]] = []
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=max(grace, 0.0))
            cut_short = [self._running[task] for task in pending]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._hand_back:
            await self._give_back(cut_short)
            with contextlib.suppress(Exception):  # they lapse anyway
                await self._queue.release(self._node_id, self._clock())
        return len(cut_short)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            self._wake.clear()  # before claiming: an item added meanwhile wakes us again
            await self._purge()
            while await self._claim():
                pass

    async def _purge(self) -> None:
        now = self._clock()
        if self._retention is None or now < self._next_purge:
            return
        self._next_purge = now + _PURGE_EVERY_S
        try:
            while await self._queue.purge(now - self._retention, _PURGE_BATCH) >= _PURGE_BATCH:
                pass
        except Exception:  # retried at the next purge
            logger.exception("purging done %s failed", self._what)

    async def _claim(self) -> bool:
        """Claim due items, as many as there is room for (at most one batch), and start
        them; returns whether to claim again at once (more may be due)."""
        room = min(self._capacity - len(self._running), _CLAIM_BATCH)
        if room <= 0:
            self._full = True  # a finishing item kicks once there is room
            return False
        self._skipped = frozenset(self._saturated())
        try:
            claimed = await self._queue.claim_due(
                self._node_id,
                self._clock(),
                self._lease_seconds(),
                room,
                skip_groups=self._skipped,
            )
        except Exception:  # the dispatcher must outlive a store outage; it claims again later
            if not self._failing:
                logger.exception("claiming due %s failed; retrying", self._what)
            self._failing = True
            return False
        if self._failing:
            logger.info("claiming due %s works again", self._what)
            self._failing = False
        refused: list[QueueItem[T]] = []
        for value in claimed:
            item = self._read(value)
            if item.key in self._keys:
                continue  # still running here although its lease lapsed
            if self._admit is not None and not self._admit(item):
                refused.append(item)  # one claim can take more of a group than it may run
                continue
            self._start(item)
        if refused:
            await self._give_back(refused)
        return len(claimed) >= room

    def _start(self, item: QueueItem[T]) -> None:
        task = asyncio.create_task(self._attempt(item))
        self._running[task] = item
        self._keys.add(item.key)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        item = self._running.pop(task, None)
        if item is not None:
            self._keys.discard(item.key)
            if item.group in self._skipped:  # its group has room again: claim what waits
                self.kick()
        if self._full and self._capacity - len(self._running) >= self._refill:
            self._full = False
            self.kick()

    async def _attempt(self, item: QueueItem[T]) -> None:
        """Run one attempt and store its outcome; never raises (but for cancellation)."""
        try:
            outcome = await self._run(item.value)
        except Exception as exc:
            logger.exception("a %s attempt raised", self._what)
            outcome = Outcome.failure(f"{type(exc).__name__}: {exc}")
        try:
            await self._settle(item, outcome)
        except Exception:  # the outcome was not stored: the lease lapses, it comes back
            logger.exception(
                "storing the outcome of %s %s failed; it will be tried again", self._what, item.key
            )

    async def _settle(self, item: QueueItem[T], outcome: Outcome) -> None:
        now = self._clock()
        if outcome.succeeded:
            await self._queue.complete(item.key, now)
            self._settled(item, outcome, "succeeded", None)
            return
        retry_at: float | None = None
        spent = outcome.counted and item.attempts >= self._max_attempts
        if not outcome.final and not spent:
            delay = outcome.retry_in
            if delay is None:
                delay = self._backoff.delay(item.attempts)
            retry_at = now + delay
            if self._max_age is not None and retry_at - item.created_at > self._max_age:
                retry_at = None
            elif delay < self._poll_interval:  # due before the next poll: look then
                asyncio.get_running_loop().call_later(delay, self.kick)
        fate = "dead" if retry_at is None else "retried" if outcome.counted else "deferred"
        await self._queue.fail(item.key, outcome.error, now, retry_at, counted=outcome.counted)
        self._settled(item, outcome, fate, None if retry_at is None else retry_at - now)

    async def _give_back(self, items: list[QueueItem[T]]) -> None:
        """Make claimed items due again at once, their claims not counted."""
        now = self._clock()
        for item in items:
            try:
                await self._queue.fail(item.key, None, now, now, counted=False)
            except Exception:  # the lease lapses instead
                logger.exception("handing back %s %s failed", self._what, item.key)
