"""``ContainerPool``: one function's warm workers, checked out one invocation at a time.

The rules, each paid for by somebody else's bug (see the research notes on pools):

* Checkout is exclusive and FIFO-fair with direct hand-off: ``release`` gives the worker
  straight to the oldest live waiter's future, so no newcomer can barge in between a wake-up
  and the waiter running; newcomers take the fast path only when nobody waits.
* A waiter cancelled after it was handed a worker passes that worker on; none is lost.
* Idle workers are reused most-recent-first, so the least recently used age out at the front
  of the idle stack where the Janitor reaps them.
* The wait queue is bounded, and a caller whose wait would outlast its deadline is told at
  once (``TooManyRequestsError`` with a ``retry_after``) instead of queueing in vain.
* Cold starts are coalesced: N waiters trigger at most ``min(N - starting, capacity - live)``
  starts, each through a global start budget shared by every pool.
* Reaping, checkout and release are synchronous state transitions on the event loop: no
  ``await`` sits between a check and the change it guards, so they can never race.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable

from lockgate.errors import (
    LockgateError,
    PoolClosedError,
    TooManyRequestsError,
    WorkerCrashedError,
)
from lockgate.gateways.interfaces import IInvocationMetrics, IWorker, IWorkerLauncher
from lockgate.models.function import FunctionEntity
from lockgate.models.pool import PoolStats
from lockgate.use_cases.functions.init_failures import InitFailures

__all__ = ["ContainerPool"]

_EWMA_WEIGHT = 0.2
_MAX_START_BACKOFF = 30.0


class ContainerPool:
    """The worker pool of one function configuration.

    Args:
        function: The function (and so the configuration) every worker here runs.
        launcher: Starts workers.
        start_budget: Shared by all pools; caps simultaneous worker starts.
        metrics: Where cold starts are recorded, if anywhere.
        clock: Monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        function: FunctionEntity,
        launcher: IWorkerLauncher,
        start_budget: asyncio.Semaphore,
        *,
        metrics: IInvocationMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function = function
        self.config_hash = function.config_hash
        self._launcher = launcher
        self._start_budget = start_budget
        self._metrics = metrics
        self._clock = clock
        self._idle: list[tuple[IWorker, float]] = []  # a stack: most recently idle last
        self._busy: dict[IWorker, float] = {}  # worker -> checkout time
        self._fresh: set[IWorker] = set()  # started for a waiter, not yet handed out
        # Only live waiters: every path that resolves or cancels a future also removes it,
        # so len() is the queue depth without a scan.
        self._waiters: deque[asyncio.Future[IWorker]] = deque()
        self._starting = 0
        self._start_tasks: set[asyncio.Task[None]] = set()
        self._reap_tasks: set[asyncio.Task[None]] = set()  # awaiting killed workers' exit
        self._draining = False
        self._closed = False
        self._idle_event = asyncio.Event()
        self._cold_starts = 0
        self._start_failures = 0
        self._last_start_failure = -math.inf
        self._init_failures = InitFailures(function.name)
        self._service_s = 0.05  # moving average of how long a checkout lasts
        self._start_s = 0.1  # moving average of how long a start takes

    # -- checkout ---------------------------------------------------------------------------

    async def acquire(self, deadline: float, *, own_timer: bool = True) -> tuple[IWorker, bool]:
        """Check out a worker before ``deadline`` (monotonic seconds).

        With ``own_timer=False`` the caller enforces the deadline itself (by cancelling),
        which saves a timer when one already covers the whole invocation; the deadline then
        only decides admission.

        Returns:
            The worker, and True when it was started for this caller (a cold start).

        Raises:
            TooManyRequestsError: The queue is full, the wait would outlast the deadline, or
                the deadline passed while waiting. Nothing ran.
            PoolClosedError: The pool is shutting down.
            FunctionInitError, WorkerCrashedError: The worker started for this caller failed.
        """
        if self._closed:
            raise PoolClosedError(
                f"the pool of function {self.function.name!r} is shut down",
                function=self.function.name,
            )
        if not self._waiters:
            while self._idle:
                worker, _ = self._idle.pop()
                if worker.alive:
                    self._busy[worker] = self._clock()
                    return worker, False
                self._discard(worker)
        self._check_admission(deadline)
        waiter: asyncio.Future[IWorker] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._start_for_waiters()
        try:
            if own_timer:
                async with asyncio.timeout(deadline - self._clock()):
                    worker = await waiter
            else:
                worker = await waiter
        except BaseException as exc:
            self._abandon(waiter)
            if isinstance(exc, TimeoutError):
                raise self.throttled("no worker became free before the deadline") from None
            raise
        cold = worker in self._fresh
        self._fresh.discard(worker)
        return worker, cold

    def release(self, worker: IWorker, *, reusable: bool = True) -> None:
        """Return a checked-out worker; ``reusable=False`` (or a dead worker) discards it."""
        started = self._busy.pop(worker, None)
        if started is not None:
            elapsed = self._clock() - started
            self._service_s += _EWMA_WEIGHT * (elapsed - self._service_s)
        if not reusable or not worker.alive or self._closed:
            self._discard(worker)
            self._start_for_waiters()  # the replacement, if anyone waits
        else:
            self._give(worker)
        self._signal_if_idle()

    def _give(self, worker: IWorker) -> None:
        """Hand ``worker`` to the oldest live waiter, or park it on the idle stack."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._busy[worker] = self._clock()
                waiter.set_result(worker)
                return
        if self._draining:
            self._discard(worker)
            return
        self._fresh.discard(worker)
        self._idle.append((worker, self._clock()))

    def _abandon(self, waiter: asyncio.Future[IWorker]) -> None:
        """A waiter gave up (timeout or cancellation): never lose what it was handed."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            worker = waiter.result()
            self._busy.pop(worker, None)
            self._give(worker)
            return
        waiter.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _check_admission(self, deadline: float) -> None:
        live_waiters = len(self._waiters)
        if live_waiters >= self.function.scaling.max_queue:
            raise self.throttled(
                f"{live_waiters} callers already wait (max_queue {self.function.scaling.max_queue})"
            )
        remaining = deadline - self._clock()
        if self._live < self.function.scaling.max_capacity:
            expected = self._start_s
        else:
            rounds = (live_waiters + 1) / self.function.scaling.max_capacity
            expected = math.ceil(rounds) * self._service_s
        if expected > remaining:
            raise self.throttled(
                f"the expected wait ({expected:.2f}s) would outlast the deadline "
                f"({max(remaining, 0):.2f}s left)"
            )

    def throttled(self, why: str) -> TooManyRequestsError:
        """The error for a caller shed before it ran, with a ``retry_after`` estimate."""
        backlog = len(self._waiters) + 1
        estimate = backlog * self._service_s / self.function.scaling.max_capacity
        return TooManyRequestsError(
            f"function {self.function.name!r} is at capacity: {why}",
            retry_after=max(1, math.ceil(estimate)),
            function=self.function.name,
            reason="ReservedFunctionConcurrentInvocationLimitExceeded",
        )

    # -- starting workers -------------------------------------------------------------------

    @property
    def _live(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    def _start_for_waiters(self) -> None:
        if self._closed:
            return
        room = self.function.scaling.max_capacity - self._live
        if room <= 0:
            return
        needed = len(self._waiters) - self._starting
        for _ in range(min(needed, room)):
            self._spawn_start(for_waiter=True)

    def ensure_min_warm(self) -> int:
        """Start workers up to ``min_warm`` (backing off after start failures); the count."""
        if self._closed or self._draining:
            return 0
        backoff = min(_MAX_START_BACKOFF, 2.0**self._start_failures) if self._start_failures else 0
        if self._clock() - self._last_start_failure < backoff:
            return 0
        deficit = self.function.scaling.min_warm - self._live
        for _ in range(deficit):
            self._spawn_start(for_waiter=False)
        return max(deficit, 0)

    def _spawn_start(self, *, for_waiter: bool) -> None:
        self._starting += 1
        task = asyncio.get_running_loop().create_task(self._start_one(for_waiter=for_waiter))
        self._start_tasks.add(task)
        task.add_done_callback(self._start_tasks.discard)

    async def _start_one(self, *, for_waiter: bool) -> None:
        began = self._clock()
        try:
            async with self._start_budget:
                if self._closed:
                    return
                began = self._clock()
                worker = await self._launcher.launch(self.function)
        except LockgateError as exc:
            failure: LockgateError | None = exc
        except Exception as exc:
            failure = WorkerCrashedError(
                f"starting a worker for {self.function.name!r} failed: {exc!r}",
                reached_handler=False,
            )
        else:
            failure = None
        finally:
            self._starting -= 1
        if failure is not None:
            self._start_failed(failure)
            return
        self._started(worker, self._clock() - began, for_waiter=for_waiter)

    def _started(self, worker: IWorker, elapsed: float, *, for_waiter: bool) -> None:
        self._start_s += _EWMA_WEIGHT * (elapsed - self._start_s)
        self._cold_starts += 1
        self._start_failures = 0
        self._init_failures.started()
        if self._metrics is not None:
            self._metrics.cold_start(self.function.name, elapsed)
        if self._closed:  # the pool closed while the worker was starting
            self._discard(worker)
            return
        if for_waiter:
            self._fresh.add(worker)
        self._give(worker)
        self._signal_if_idle()

    def _start_failed(self, exc: LockgateError) -> None:
        self._start_failures += 1
        self._last_start_failure = self._clock()
        self._init_failures.failed(exc)
        # The oldest waiter learns why at once rather than at its deadline; a start is
        # retried for the waiters behind it, each of which triggered one of its own.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)
                break
        self._start_for_waiters()
        self._signal_if_idle()

    # -- reaping, draining, closing ---------------------------------------------------------

    def reap_idle(self, now: float | None = None) -> int:
        """Discard workers idle longer than ``idle_ttl`` (keeping ``min_warm``); the count."""
        now = self._clock() if now is None else now
        ttl = self.function.scaling.idle_ttl
        keep = 0 if self._draining else self.function.scaling.min_warm
        reaped: list[IWorker] = []
        survivors: list[tuple[IWorker, float]] = []
        live = self._live
        for worker, since in self._idle:  # oldest first
            if not worker.alive or (now - since >= ttl and live - len(reaped) > keep):
                reaped.append(worker)
            else:
                survivors.append((worker, since))
        self._idle = survivors
        for worker in reaped:
            self._discard(worker)
        return len(reaped)

    async def drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Stop keeping workers: idle ones go now, busy ones when released. True if idle."""
        self._draining = True
        for worker, _ in self._idle:
            self._discard(worker)
        self._idle.clear()
        self._signal_if_idle()
        try:
            async with asyncio.timeout(timeout):
                await self._idle_event.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Kill every worker and fail every waiter; returns once all workers have exited."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(
                    PoolClosedError(
                        f"the pool of function {self.function.name!r} shut down",
                        function=self.function.name,
                    )
                )
        for task in list(self._start_tasks):
            task.cancel()
        if self._start_tasks:
            await asyncio.gather(*self._start_tasks, return_exceptions=True)
        for worker, _ in self._idle:
            self._discard(worker)
        self._idle.clear()
        for worker in list(self._busy):
            self._discard(worker)
        self._busy.clear()
        # Not cancelled: every killed worker is waited for, so none outlives the pool.
        if self._reap_tasks:
            await asyncio.gather(*self._reap_tasks)

    def _discard(self, worker: IWorker) -> None:
        self._fresh.discard(worker)
        worker.kill()
        task = asyncio.get_running_loop().create_task(worker.wait_closed())
        self._reap_tasks.add(task)
        task.add_done_callback(self._reap_tasks.discard)

    def _signal_if_idle(self) -> None:
        if self._draining and not self._busy and not self._starting and not self._waiters:
            self._idle_event.set()

    # -- observation ------------------------------------------------------------------------

    @property
    def last_init_error(self) -> str | None:
        """Why the last worker start failed; None once one has started since."""
        return self._init_failures.last

    def stats(self) -> PoolStats:
        return PoolStats(
            function=self.function.name,
            config_hash=self.config_hash,
            warm=len(self._idle),
            busy=len(self._busy),
            starting=self._starting,
            queued=len(self._waiters),
            max_capacity=self.function.scaling.max_capacity,
            cold_starts=self._cold_starts,
            last_init_error=self._init_failures.last,
            draining=self._draining,
        )

    def __repr__(self) -> str:
        stats = self.stats()
        return (
            f"ContainerPool({self.function.name!r}, warm={stats.warm}, busy={stats.busy}, "
            f"starting={stats.starting}, queued={stats.queued})"
        )
