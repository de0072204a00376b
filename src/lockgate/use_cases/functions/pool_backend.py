"""The local ``IInvocationBackend``: run each invocation on a worker from the function's pool."""

from __future__ import annotations

import asyncio
import time

from lockgate.errors import InvocationTimeoutError
from lockgate.gateways.interfaces import NO_TRACER, ITracer, IWorker
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply
from lockgate.use_cases.functions.container_pool import ContainerPool
from lockgate.use_cases.functions.pool_manager import PoolManager

__all__ = ["PoolInvocationBackend"]


class PoolInvocationBackend:
    """Checks a worker out, runs the invocation under the deadline, and checks it back in.

    One timer covers the wait for a worker and the call: when it fires while waiting the
    caller is shed (nothing ran); while running, it is a timeout. A worker whose call timed
    out or was cancelled is killed rather than reused: its handler may still be running,
    and the protocol stream is mid-frame.
    """

    def __init__(self, manager: PoolManager, *, tracer: ITracer = NO_TRACER) -> None:
        self._manager = manager
        self._tracer = tracer

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        pool = self._manager.pool_for(function)
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("PoolInvocationBackend.invoke must run inside an asyncio task")
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = loop.call_at(loop.time() + (deadline - time.monotonic()), expire)
        worker: IWorker | None = None
        reusable = False
        try:
            waited = time.perf_counter()
            worker, cold = await pool.acquire(deadline, own_timer=False)
            if self._tracer.enabled:  # the invocation's span: how long the worker took to get
                self._tracer.current().add_event(
                    "worker acquired",
                    {
                        "faas.coldstart": cold,
                        "lockgate.queue_wait_ms": (time.perf_counter() - waited) * 1000,
                    },
                )
            reply = await worker.invoke(invocation)
            reusable = True
            return reply, cold
        except asyncio.CancelledError:
            if not expired:
                raise
            task.uncancel()  # the cancellation was ours, and it ends here
            raise self._expired(pool, function, worker) from None
        finally:
            # No await between the try and here: once this runs, the timer cannot fire.
            timer.cancel()
            if worker is not None:
                pool.release(worker, reusable=reusable)

    @staticmethod
    def _expired(
        pool: ContainerPool, function: FunctionEntity, worker: IWorker | None
    ) -> Exception:
        if worker is None:
            return pool.throttled("no worker became free before the deadline")
        return InvocationTimeoutError(
            f"Task timed out after {function.timeout_seconds:.2f} seconds",
            function=function.name,
            timeout=function.timeout_seconds,
        )
