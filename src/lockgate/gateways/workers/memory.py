"""In-process workers: a fake ``IWorkerLauncher`` for tests and embedding experiments.

Handlers run on the event loop (async) with no isolation at all; everything else (the
pool, the invoker, the breaker) behaves as with real processes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from lockgate.errors import FunctionInitError, WorkerCrashedError
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import HandlerError, WorkerInvocation, WorkerReply

__all__ = ["InMemoryWorker", "InMemoryWorkerLauncher", "MemoryHandler"]

MemoryHandler = Callable[[Any], Awaitable[Any]]
_ids = itertools.count(1)


class InMemoryWorker:
    """Runs ``handler(event)`` in-process; ``crash_next`` makes the next call die mid-way."""

    def __init__(self, function: FunctionEntity, handler: MemoryHandler) -> None:
        self._function = function
        self._handler = handler
        self._worker_id = f"{function.name}-mem-{next(_ids)}"
        self._alive = True
        self._closed = asyncio.Event()
        self.calls = 0
        self.crash_next = False

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def alive(self) -> bool:
        return self._alive

    async def invoke(self, invocation: WorkerInvocation) -> WorkerReply:
        if not self._alive:
            raise WorkerCrashedError("worker is gone", reached_handler=False)
        self.calls += 1
        if self.crash_next:
            self.kill()
            raise WorkerCrashedError("worker died during the invocation", reached_handler=True)
        event = json.loads(invocation.payload) if invocation.payload else {}
        try:
            result = await self._handler(event)
        except Exception as exc:
            error = HandlerError(str(exc), type(exc).__name__)
            return WorkerReply(b"", error, b"", 0, 0.0)
        return WorkerReply(json.dumps(result).encode(), None, b"", 0, 0.0)

    def kill(self) -> None:
        self._alive = False
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()


class InMemoryWorkerLauncher:
    """Launches ``InMemoryWorker``s after ``start_delay`` seconds.

    Attributes:
        launched: Every worker started, in order.
        init_error: When set, every launch fails with it (as a failed import would).
        concurrent_starts / max_concurrent_starts: For checking the start budget.
    """

    def __init__(self, handler: MemoryHandler, *, start_delay: float = 0.0) -> None:
        self._handler = handler
        self.start_delay = start_delay
        self.init_error: str | None = None
        self.launched: list[InMemoryWorker] = []
        self.concurrent_starts = 0
        self.max_concurrent_starts = 0

    async def launch(self, function: FunctionEntity) -> InMemoryWorker:
        self.concurrent_starts += 1
        self.max_concurrent_starts = max(self.max_concurrent_starts, self.concurrent_starts)
        try:
            if self.start_delay:
                await asyncio.sleep(self.start_delay)
            if self.init_error is not None:
                raise FunctionInitError(self.init_error, function=function.name)
        finally:
            self.concurrent_starts -= 1
        worker = InMemoryWorker(function, self._handler)
        self.launched.append(worker)
        return worker
