"""``InMemoryAsyncInvocationStore``: ``Event`` invocations in a dict, for tests and
throwaway gateways.

Behaves like the durable stores (leases, ordering, checks, dead and redrive: the memory
work queue's) but keeps nothing across a restart.
"""

from __future__ import annotations

from lockgate.gateways.stores.invocations.schema import new_invocation_row
from lockgate.gateways.stores.invocations.view import InvocationQueueView
from lockgate.gateways.stores.work_queue.memory import InMemoryWorkQueue, QueueRow
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["InMemoryAsyncInvocationStore"]

QUEUED = AsyncInvocationStatus.QUEUED


def _invocation(row: QueueRow) -> AsyncInvocation:
    """The invocation a row holds now (its item: the function, payload and qualifier)."""
    function, payload, qualifier, trace = row.item
    return AsyncInvocation(
        request_id=row.key,
        function=function,
        payload=payload,
        qualifier=qualifier,
        status=AsyncInvocationStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        error=row.error,
        finished_at=row.finished_at,
        trace=trace,
    )


class InMemoryAsyncInvocationStore(InvocationQueueView):
    """Async invocations in memory; lost when the process ends."""

    def __init__(self) -> None:
        self.queue = self._queue = InMemoryWorkQueue(
            _invocation,
            waiting=QUEUED.value,
            done=AsyncInvocationStatus.SUCCEEDED.value,
            what="request ids",
        )

    def __repr__(self) -> str:
        return f"InMemoryAsyncInvocationStore({len(self._queue.rows)} invocations)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        name, function, payload, qualifier, _, _, created_at, due, _, _, trace = new_invocation_row(
            invocation
        )
        if name in self._queue.rows:
            raise ValueError(f"async invocation {name} is already stored")
        if max_queued is not None:
            queued = sum(r.item[0] == function for r in self._queue.waiting.values())
            if queued >= max_queued:
                return False
        self._queue.add(
            QueueRow(
                key=name,
                group=function,
                order=(name,),
                status=QUEUED.value,
                created_at=created_at,
                next_attempt_at=due,
                item=(function, payload, qualifier, trace),
            )
        )
        return True
