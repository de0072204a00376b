"""The ``Janitor`` reaps idle workers; the ``Scheduler`` keeps ``min_warm`` workers up.

Both are loops over the ``PoolManager``'s pools; each pass is a synchronous state change in
the pool, so neither can race a checkout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from lockgate.models.function import FunctionEntity
from lockgate.use_cases.functions.pool_manager import PoolManager

__all__ = ["Janitor", "Scheduler"]

logger = logging.getLogger(__name__)


class Janitor:
    """Reaps workers idle past their function's ``idle_ttl``.

    Args:
        manager: The pools to sweep.
        interval: Seconds between sweeps, at most; shortened to half the smallest
            ``idle_ttl`` so a short TTL is honoured (a sweep slower than the TTL would
            silently stretch it).
    """

    def __init__(self, manager: PoolManager, *, interval: float = 1.0) -> None:
        self._manager = manager
        self._interval = interval

    def sweep(self, now: float | None = None) -> int:
        """One pass; returns how many workers were reaped."""
        return sum(pool.reap_idle(now) for pool in self._manager.pools())

    def next_interval(self) -> float:
        ttls = [pool.function.scaling.idle_ttl for pool in self._manager.pools()]
        return min([self._interval, *(ttl / 2 for ttl in ttls)])

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.next_interval())
            reaped = self.sweep()
            if reaped:
                logger.debug("janitor reaped %d idle workers", reaped)


class Scheduler:
    """Keeps every function's ``min_warm`` workers started.

    Args:
        manager: Makes and owns the pools.
        functions: Returns the functions currently declared.
        interval: Seconds between passes.
    """

    def __init__(
        self,
        manager: PoolManager,
        functions: Callable[[], Iterable[FunctionEntity]],
        *,
        interval: float = 1.0,
    ) -> None:
        self._manager = manager
        self._functions = functions
        self._interval = interval

    def tick(self) -> int:
        """One pass; returns how many starts it asked for."""
        return sum(
            self._manager.pool_for(function).ensure_min_warm() for function in self._functions()
        )

    def short(self) -> dict[str, str | None]:
        """The functions short of their ``min_warm`` workers: each one's last start error,
        or None while its workers are still starting."""
        short: dict[str, str | None] = {}
        for function in self._functions():
            stats = self._manager.pool_for(function).stats()
            if stats.warm + stats.busy < function.scaling.min_warm:
                short[function.name] = stats.last_init_error
        return short

    async def run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self._interval)
