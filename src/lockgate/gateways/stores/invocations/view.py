"""``InvocationQueueView``: the ``IAsyncInvocationStore`` methods every backend answers the
same way, by handing them to its work queue (``work_queue``) in the invocations' words."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from lockgate.gateways.stores.work_queue.ports import IWorkQueueStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["InvocationQueueView"]


class InvocationQueueView:
    """Mixed into each async invocation store, which sets ``queue``."""

    queue: IWorkQueueStore[AsyncInvocation]

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_functions: Collection[str] = (),
    ) -> list[AsyncInvocation]:
        return await self.queue.claim_due(
            owner, now, lease_seconds, limit, skip_groups=skip_functions
        )

    async def release(self, owner: str, now: float) -> int:
        return await self.queue.release(owner, now)

    async def succeed(self, request_id: str, now: float) -> None:
        await self.queue.complete(request_id, now)

    async def fail(
        self,
        request_id: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        await self.queue.fail(request_id, error, now, retry_at, counted=counted)

    async def get(self, request_id: str) -> AsyncInvocation | None:
        return await self.queue.get(request_id)

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        value = None if status is None else AsyncInvocationStatus(status).value
        return await self.queue.list_items(value, function, limit)

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        return await self.queue.redrive(now, request_ids, function)

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        return await self.queue.purge(before, limit)
