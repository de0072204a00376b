"""``IEventStore``: durable events between modules and their deliveries (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from lockgate.gateways.stores.work_queue.ports import IWorkQueueStore
from lockgate.models.event import Delivery, DeliveryStatus, EventRecord

__all__ = ["IEventStore"]


@runtime_checkable
class IEventStore(Protocol):
    """Durable events between modules (an outbox): the event and one delivery row per
    subscriber, written together; deliveries claimed with a lease, completed, retried, or
    left dead. Kept beside the runs, in the same database, in tables of its own.

    The deliveries are a work queue (``queue``, ids ``event_id:subscriber``, grouped by
    subscriber); the methods below that claim, finish or list them are thin views of it.
    The notes name the calls by backend: none in memory, ``sqlite3`` on the store's writer
    thread for SQLite, an ``asyncpg`` pool for PostgreSQL.
    """

    queue: IWorkQueueStore[Delivery]

    async def open(self) -> None:
        """Connect and bring the events' schema up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the events' and deliveries' tables if missing; applies migrations.

        Note:
            ``sqlite3.connect``, or ``asyncpg.create_pool``; migrations under a lock.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent.

        Raises:
            Nothing.

        Side Effects:
            Later calls fail until ``open``.

        Note:
            Closes the SQLite connection, or the ``asyncpg`` pool.
        """
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

        Note:
            ``INSERT``s of the event and one delivery per subscriber (``executemany``).
        """
        ...

    async def claim_due(
        self, owner: str, now: float, lease_seconds: float, limit: int
    ) -> list[Delivery]:
        """Claim the deliveries that are due.

        Args:
            owner: The node claiming (its lease).
            now: Unix seconds: pending deliveries due by then, and leases lapsed by then.
            lease_seconds: How long the claim lasts.
            limit: Deliveries at most.

        Returns:
            The claimed deliveries (with their events), oldest first, each attempt counted.

        Raises:
            RunStoreError: The store failed.

        Side Effects:
            Leases them to ``owner`` until ``now + lease_seconds``.

        Note:
            One ``UPDATE ... RETURNING`` over the due rows (``FOR UPDATE SKIP LOCKED`` on
            PostgreSQL, so concurrent claimers never take the same delivery).
        """
        ...

    async def complete(self, event_id: str, subscriber: str, now: float) -> None:
        """Mark a delivery completed (a no-op when it already is).

        Args:
            event_id: The event.
            subscriber: The subscriber it was delivered to.
            now: Unix seconds it completed.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write; the lease is released.

        Note:
            One ``UPDATE`` by event and subscriber.
        """
        ...

    async def fail(
        self, event_id: str, subscriber: str, error: str, retry_at: float | None
    ) -> None:
        """Record a failed attempt: pending again from ``retry_at``, or dead when it is
        None; the lease is released either way.

        Args:
            event_id: The event.
            subscriber: The subscriber it failed for.
            error: Why (the handler's exception, as text).
            retry_at: Unix seconds of the next attempt; None leaves it dead.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE`` by event and subscriber.
        """
        ...

    async def deliveries(
        self,
        status: DeliveryStatus | None = None,
        limit: int = 100,
        *,
        subscriber: str | None = None,
    ) -> list[Delivery]:
        """Deliveries, oldest first.

        Args:
            status: Only those in this status.
            limit: Deliveries at most.
            subscriber: Only this subscriber's.

        Returns:
            The deliveries, with their events.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` joining deliveries to their events.
        """
        ...

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery.

        Args:
            delivery_id: ``event_id:subscriber`` (``Delivery.id``).

        Returns:
            The delivery with its event, or None.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` by id (the deliveries' id index).
        """
        ...

    async def redrive(
        self,
        now: float,
        delivery_ids: Sequence[str] | None = None,
        subscriber: str | None = None,
    ) -> list[str]:
        """Make dead deliveries pending again, due at ``now`` with no attempts and no
        error: those of ``delivery_ids`` (when given), else every dead one (of
        ``subscriber``, when given). Ids unknown or not dead are left alone.

        Args:
            now: Unix seconds: they are due from then.
            delivery_ids: Only these.
            subscriber: Only this subscriber's.

        Returns:
            The ids re-queued, oldest event first.

        Raises:
            TypeError: ``delivery_ids`` is a single string or holds a non-string.
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE ... WHERE status = 'dead'`` (one per id on SQLite).
        """
        ...

    async def purge_completed(self, before: float, limit: int = 1000) -> int:
        """Delete completed deliveries finished before ``before``, and events left with no
        delivery.

        Args:
            before: Unix seconds.
            limit: Deliveries at most in this call (the caller loops).

        Returns:
            How many deliveries were deleted.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            Deletes rows; events' payloads (often personal data) go with their last
            delivery.

        Note:
            Two ``DELETE``s in one transaction: the deliveries, then the orphaned events.
        """
        ...
