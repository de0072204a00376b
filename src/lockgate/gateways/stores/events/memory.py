"""``InMemoryEventStore``: the event store in dicts, for tests and throwaway gateways.

Behaves like the durable stores (leases, ordering, JSON round trips, checks) but keeps
nothing across a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from lockgate import json_codec
from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.events.schema import (
    checked_record,
)
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = ["InMemoryEventStore"]


@dataclass(slots=True)
class _Row:
    """One delivery's columns, as the durable stores keep them."""

    status: DeliveryStatus
    attempts: int
    next_attempt_at: float
    lease_owner: str | None = None
    lease_until: float | None = None
    error: str | None = None
    finished_at: float | None = None


class InMemoryEventStore:
    """Events and deliveries in memory; lost when the process ends.

    An event recorded with no subscribers is not stored (nothing would ever read it), as in
    the durable stores.
    """

    def __init__(self) -> None:
        # The event with its data as JSON text: decoded afresh for every delivery.
        self._events: dict[str, tuple[EventRecord, bytes]] = {}
        self._rows: dict[tuple[str, str], _Row] = {}

    def __repr__(self) -> str:
        return f"InMemoryEventStore({len(self._events)} events, {len(self._rows)} deliveries)"

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
            self._rows.setdefault(
                (event.event_id, subscriber),
                _Row(DeliveryStatus.PENDING, 0, event.created_at),
            )

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        check_claim(lease_seconds, limit)
        due = sorted(
            (row.next_attempt_at, key)
            for key, row in self._rows.items()
            if row.status is DeliveryStatus.PENDING and row.next_attempt_at <= now
        )[:limit]
        until = now + lease_seconds
        claimed: list[Delivery] = []
        for _, key in due:
            row = self._rows[key]
            row.attempts += 1
            row.lease_owner, row.lease_until, row.next_attempt_at = owner, until, until
            claimed.append(self._delivery(key, row))
        return claimed

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        row = self._rows.get((event_id, subscriber))
        if row is None or row.status is DeliveryStatus.COMPLETED:
            return
        row.status, row.finished_at = DeliveryStatus.COMPLETED, now
        row.lease_owner = row.lease_until = None

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        row = self._rows.get((event_id, subscriber))
        if row is None or row.status is not DeliveryStatus.PENDING:
            return  # finished meanwhile (by another node whose claim outlived ours)
        row.error = error
        row.lease_owner = row.lease_until = None
        if retry_at is None:
            row.status = DeliveryStatus.DEAD
        else:
            row.next_attempt_at = retry_at

    async def deliveries(
        self, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[Delivery]:
        check_limit(limit)
        keys = sorted(
            (key for key, row in self._rows.items() if status is None or row.status == status),
            key=lambda key: (self._events[key[0]][0].created_at, key),
        )[:limit]
        return [self._delivery(key, self._rows[key]) for key in keys]

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        finished = sorted(
            (row.finished_at, key)
            for key, row in self._rows.items()
            if row.status is DeliveryStatus.COMPLETED
            and row.finished_at is not None
            and row.finished_at < before
        )[:limit]
        for _, key in finished:
            del self._rows[key]
        left = {event_id for event_id, _ in self._rows}
        for _, (event_id, _) in finished:
            if event_id not in left:
                self._events.pop(event_id, None)
        return len(finished)

    def _delivery(self, key: tuple[str, str], row: _Row) -> Delivery:
        event, data = self._events[key[0]]
        return Delivery(
            event=replace(event, data=json_codec.loads(data)),
            subscriber=key[1],
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            error=row.error,
        )
