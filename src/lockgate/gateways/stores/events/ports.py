"""``IEventStore``: durable events between modules and their deliveries (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = ["IEventStore"]


@runtime_checkable
class IEventStore(Protocol):
    """Durable events between modules (an outbox): the event and one delivery row per
    subscriber, written together; deliveries claimed with a lease, completed, retried, or
    left dead. Kept beside the runs, in the same database, in tables of its own.
    """

    async def open(self) -> None:
        """Connect and bring the events' schema up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def record(
        self, event: EventRecord, subscribers: Sequence[str], *, connection: object | None = None
    ) -> None:
        """Store ``event`` and a pending delivery, due at once, for each subscriber, all in
        one transaction (nothing is stored when it fails).

        Args:
            event: The event.
            subscribers: The subscriber ids to deliver it to.
            connection: A publisher's own database connection (the transactional outbox):
                the rows are written on it, inside its open transaction, and commit or roll
                back with the publisher's writes; invisible to ``claim_due`` until then.
                Only the PostgreSQL store accepts one (an asyncpg connection to its
                database); the others refuse it.

        Raises:
            TypeError: ``connection`` is not a connection the store can write on.
            ValueError: The store cannot join a caller's transaction, or ``connection`` is
                closed, in a failed transaction, or to another database.
            RunStoreError: The write failed.

        Side Effects:
            One committed transaction, or a part of the caller's.
        """
        ...

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        """Pending deliveries due by ``now`` that nobody holds (or whose lease lapsed),
        oldest first, now leased to ``owner`` until ``now + lease_seconds``; each claim
        counts as an attempt.

        Raises:
            RunStoreError: The store failed.
        """
        ...

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        """Mark a delivery completed (a no-op when it already is).

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        """Record a failed attempt: pending again from ``retry_at``, or dead when it is
        None; the lease is released either way.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def deliveries(
        self, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries (oldest first), optionally only those in ``status``.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        """Delete completed deliveries finished before ``before``, and events left with no
        delivery; returns how many deliveries went.

        Raises:
            RunStoreError: The write failed.
        """
        ...
