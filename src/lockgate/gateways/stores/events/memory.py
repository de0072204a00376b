"""``InMemoryEventStore``: the event store in dicts, for tests and throwaway gateways.

Behaves like the durable stores (leases, ordering, JSON round trips, checks: the memory
work queue's) but keeps nothing across a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lockgate import json_codec
from lockgate.gateways.stores.events.schema import checked_record
from lockgate.gateways.stores.events.view import DeliveryQueueView
from lockgate.gateways.stores.work_queue.memory import InMemoryWorkQueue, QueueRow
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord, delivery_id

__all__ = ["InMemoryEventStore"]

PENDING = DeliveryStatus.PENDING.value


class InMemoryEventStore(DeliveryQueueView):
    """Events and deliveries in memory; lost when the process ends.

    An event recorded with no subscribers is not stored (nothing would ever read it), as in
    the durable stores.
    """

    def __init__(self) -> None:
        # The event with its data as JSON text: decoded afresh for every delivery.
        self._events: dict[str, tuple[EventRecord, bytes]] = {}
        self.queue = self._queue = InMemoryWorkQueue(
            self._delivery,
            waiting=PENDING,
            done=DeliveryStatus.COMPLETED.value,
            what="delivery ids",
            late_success_revives_dead=True,
            purged=self._drop_orphans,
        )

    def __repr__(self) -> str:
        return f"InMemoryEventStore({len(self._events)} events, {len(self._queue.rows)} deliveries)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def record(
        self, event: EventRecord, subscribers: Sequence[str], *, connection: object | None = None
    ) -> None:
        """See ``IEventStore.record``.

        Raises:
            ValueError: ``connection`` was given: only the PostgreSQL event store can join
                a caller's transaction.
        """
        distinct, data = checked_record(self, event, subscribers, connection)
        if not distinct:
            return
        # A repeated record (same event id) keeps what is stored, as ON CONFLICT DO NOTHING.
        self._events.setdefault(event.event_id, (event, data))
        for subscriber in distinct:
            key = delivery_id(event.event_id, subscriber)
            self._queue.add(
                QueueRow(
                    key=key,
                    group=subscriber,
                    order=(event.event_id, subscriber),
                    status=PENDING,
                    created_at=self._events[event.event_id][0].created_at,
                    next_attempt_at=event.created_at,
                    item=event.event_id,
                ),
            )

    def _drop_orphans(self, purged: list[QueueRow]) -> None:
        left = {row.item for row in self._queue.rows.values()}
        for row in purged:
            if row.item not in left:
                self._events.pop(row.item, None)

    def _delivery(self, row: QueueRow) -> Delivery:
        event, data = self._events[row.item]
        return Delivery(
            event=replace(event, data=json_codec.loads(data)),
            subscriber=row.group,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            error=row.error,
        )
