"""The local ``IInvocationBackend``: run each invocation on a worker from the function's pool."""

from __future__ import annotations

import asyncio
import time

from lockgate.errors import InvocationTimeoutError
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply
from lockgate.use_cases.pool_manager import PoolManager

__all__ = ["PoolInvocationBackend"]


class PoolInvocationBackend:
    """Checks a worker out, runs the invocation under the deadline, and checks it back in.

    A worker whose call timed out or was cancelled is killed rather than reused: its handler
    may still be running, and the protocol stream is mid-frame.
    """

    def __init__(self, manager: PoolManager) -> None:
        self._manager = manager

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        pool = self._manager.pool_for(function)
        worker, cold = await pool.acquire(deadline)
        reusable = False
        try:
            async with asyncio.timeout(deadline - time.monotonic()):
                reply = await worker.invoke(invocation)
            reusable = True
            return reply, cold
        except TimeoutError:
            raise InvocationTimeoutError(
                f"Task timed out after {function.timeout_seconds:.2f} seconds",
                function=function.name,
                timeout=function.timeout_seconds,
            ) from None
        finally:
            pool.release(worker, reusable=reusable)
