"""``PoolManager``: one ``ContainerPool`` per function configuration, keyed by its hash.

When a function's configuration changes, the next call gets a pool for the new hash; the
old pool is drained (its in-flight calls finish) and closed in the background.
"""

from __future__ import annotations

import asyncio
import logging

from lockgate.gateways.interfaces import IInvocationMetrics, IWorkerLauncher
from lockgate.models.function import FunctionEntity
from lockgate.models.pool import PoolStats
from lockgate.use_cases.functions.container_pool import ContainerPool

__all__ = ["PoolManager"]

logger = logging.getLogger(__name__)


class PoolManager:
    """Owns every pool and the start budget they share.

    Args:
        launcher: Starts workers for every pool.
        start_budget: Worker starts allowed at once, across all functions.
        drain_timeout: Seconds a replaced pool's in-flight calls get before it is closed.
        metrics: Passed on to each pool.
    """

    def __init__(
        self,
        launcher: IWorkerLauncher,
        *,
        start_budget: int = 4,
        drain_timeout: float = 900.0,
        metrics: IInvocationMetrics | None = None,
    ) -> None:
        self._launcher = launcher
        self._budget = asyncio.Semaphore(start_budget)
        self._drain_timeout = drain_timeout
        self._metrics = metrics
        self._pools: dict[str, ContainerPool] = {}  # function name -> pool of its current hash
        self._retiring: set[asyncio.Task[None]] = set()
        self._retired: set[ContainerPool] = set()
        self._closed = False

    def pool_for(self, function: FunctionEntity) -> ContainerPool:
        """The pool of this exact configuration, made on first use."""
        pool = self._pools.get(function.name)
        if pool is not None and pool.config_hash == function.config_hash:
            return pool
        if self._closed:
            raise RuntimeError("the pool manager is closed")
        new_pool = ContainerPool(function, self._launcher, self._budget, metrics=self._metrics)
        self._pools[function.name] = new_pool
        if pool is not None:
            logger.info(
                "function %s changed (%s -> %s): draining its old pool",
                function.name,
                pool.config_hash,
                new_pool.config_hash,
            )
            self._retire(pool)
        return new_pool

    def renew(self, name: str) -> bool:
        """Give ``name`` a new pool on its next call although its configuration is the same
        (its code changed): the current pool drains, its in-flight calls finishing on the
        workers that started them. False when the function has no pool yet."""
        pool = self._pools.pop(name, None)
        if pool is None:
            return False
        self._retire(pool)
        return True

    def remove(self, name: str) -> None:
        """Forget a function: its pool drains and closes in the background."""
        pool = self._pools.pop(name, None)
        if pool is not None:
            self._retire(pool)

    def _retire(self, pool: ContainerPool) -> None:
        self._retired.add(pool)
        task = asyncio.get_running_loop().create_task(self._drain_and_close(pool))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _drain_and_close(self, pool: ContainerPool) -> None:
        try:
            await pool.drain(self._drain_timeout)
        finally:
            await pool.close()
            self._retired.discard(pool)

    def pools(self) -> list[ContainerPool]:
        """The current pool of every function (not the ones being retired)."""
        return list(self._pools.values())

    def stats(self) -> list[PoolStats]:
        return [pool.stats() for pool in self._pools.values()]

    async def close(self, grace: float = 0.0) -> None:
        """Let in-flight calls finish for up to ``grace`` seconds, then kill every worker."""
        self._closed = True
        pools = [*self._pools.values(), *self._retired]
        if grace > 0 and pools:
            await asyncio.gather(*(pool.drain(grace) for pool in pools))
        await asyncio.gather(*(pool.close() for pool in pools))
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
