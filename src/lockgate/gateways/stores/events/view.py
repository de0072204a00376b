"""``DeliveryQueueView``: the ``IEventStore`` methods every backend answers the same way,
by handing them to its work queue (``work_queue``) in the deliveries' words."""

from __future__ import annotations

import time
from collections.abc import Sequence

from lockgate.gateways.stores.work_queue.ports import IWorkQueueStore
from lockgate.models.event import Delivery, DeliveryStatus, delivery_id

__all__ = ["DeliveryQueueView"]


class DeliveryQueueView:
    """Mixed into each event store, which sets ``queue``."""

    queue: IWorkQueueStore[Delivery]

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        return await self.queue.claim_due(owner, now, lease_seconds, limit)

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        await self.queue.complete(delivery_id(event_id, subscriber), now)

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        # The dispatcher passes its own clock to the queue; this view stamps a death now.
        await self.queue.fail(delivery_id(event_id, subscriber), error, time.time(), retry_at)

    async def deliveries(
        self,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        *,
        subscriber: str | None = None,
    ) -> list[Delivery]:
        value = None if status is None else DeliveryStatus(status).value
        return await self.queue.list_items(value, subscriber, limit)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        return await self.queue.get(delivery_id)

    async def redrive(
        self,
        now: float,
        delivery_ids: Sequence[str] | None = None,
        subscriber: str | None = None,
    ) -> list[str]:
        return await self.queue.redrive(now, delivery_ids, subscriber)

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        return await self.queue.purge(before, limit)
