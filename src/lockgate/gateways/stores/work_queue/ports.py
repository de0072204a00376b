"""``IWorkQueueStore``: a leased, retried, dead-lettered queue of items, the mechanism event
deliveries and ``Event`` invocations share (each family's store adds how items get in)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["IWorkQueueStore"]

T = TypeVar("T")


@runtime_checkable
class IWorkQueueStore(Protocol[T]):
    """Items waiting to be worked on: claimed under a lease (each claim counts as an
    attempt), completed, retried at a time, or left dead with their error and re-driven;
    done ones purged after a while. Its family's store opens and closes it.

    Statuses are the family's own words (``queued``/``succeeded``/``dead`` for ``Event``
    invocations, ``pending``/``completed``/``dead`` for event deliveries). The notes name
    the calls by backend: none in memory, ``sqlite3`` on the store's writer thread for
    SQLite, an ``asyncpg`` pool for PostgreSQL.
    """

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_groups: Collection[str] = (),
    ) -> list[T]:
        """Waiting items due by ``now`` that nobody holds (or whose lease lapsed), of groups
        not in ``skip_groups``, oldest due first, now leased to ``owner`` until ``now +
        lease_seconds``; each claim counts as an attempt (the items returned show it).

        Args:
            owner: The node claiming.
            now: Unix seconds.
            lease_seconds: How long the claim lasts.
            limit: Items at most.
            skip_groups: Groups (functions, subscribers) the caller cannot run more of now.

        Returns:
            The claimed items.

        Raises:
            ValueError: ``lease_seconds`` is not > 0 or ``limit`` not a whole number >= 0.
            RunStoreError: The store failed.

        Side Effects:
            Leases them to ``owner`` and counts the attempts.

        Note:
            One ``UPDATE`` of the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
            concurrent claimers never take the same item).
        """
        ...

    async def release(self, owner: str, now: float) -> int:
        """Make every waiting item ``owner`` holds due at ``now`` and unheld (its attempt
        was cut short: the node restarted or stopped); the claims stay counted.

        Args:
            owner: The node letting go.
            now: Unix seconds: they are due again from then.

        Returns:
            How many were released.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE ... WHERE lease_owner = owner``.
        """
        ...

    async def complete(self, key: str, now: float) -> None:
        """Mark an item done and release its lease (a no-op when it is already done; a
        dead one stays dead unless its family says a late success revives it).

        Args:
            key: The item's id.
            now: Unix seconds it finished.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE`` by id.
        """
        ...

    async def fail(
        self,
        key: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        """Record a failed attempt: waiting again from ``retry_at``, or dead when it is None
        (finished at ``now``); the lease is released either way, ``error`` kept (None
        keeps the last one: an attempt put off, not failed). Only a waiting item can fail.

        Args:
            key: The item's id.
            error: Why it failed (None: it was put off, not failed).
            now: Unix seconds.
            retry_at: Unix seconds of the next attempt; None leaves it dead.
            counted: False when the attempt never reached its handler (throttled, cut
                short): its claim is not counted against the attempts allowed.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE`` by id.
        """
        ...

    async def get(self, key: str) -> T | None:
        """One item.

        Args:
            key: Its id.

        Returns:
            The item, or None.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` by id.
        """
        ...

    async def list_items(
        self, status: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[T]:
        """Items, oldest accepted first.

        Args:
            status: Only those in this status (the family's word).
            group: Only this group's.
            limit: Items at most.

        Returns:
            The items.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT ... ORDER BY`` acceptance ``LIMIT``.
        """
        ...

    async def redrive(
        self, now: float, keys: Sequence[str] | None = None, group: str | None = None
    ) -> list[str]:
        """Queue dead items again, due at ``now`` with no attempts and no error: those of
        ``keys`` (when given), else every dead one (of ``group``, when given; with both,
        only those of the ids that are of ``group``). Ids unknown or not dead are left
        alone.

        Args:
            now: Unix seconds: they are due from then.
            keys: Only these.
            group: Only this group's.

        Returns:
            The ids re-queued, oldest accepted first.

        Raises:
            TypeError: ``keys`` is a single string or holds a non-string.
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE ... WHERE status = 'dead'`` (one per id on SQLite, one
            transaction).
        """
        ...

    async def purge(self, before: float, limit: int = 1000) -> int:
        """Delete done items finished before ``before`` (and what only they used, such as
        an event left with no delivery).

        Args:
            before: Unix seconds.
            limit: Items at most in this call (the caller loops).

        Returns:
            How many items were deleted.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The write failed.

        Side Effects:
            Deletes rows (payloads, often personal data, with them).

        Note:
            A ``DELETE`` of the oldest done rows, then the family's cleanup, in one
            transaction.
        """
        ...
