"""``IAsyncInvocationStore``: durable ``Event`` invocations, leased to one node at a time,
retried, or dead."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from lockgate.gateways.stores.work_queue.ports import IWorkQueueStore
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["IAsyncInvocationStore"]


@runtime_checkable
class IAsyncInvocationStore(Protocol):
    """Durable ``Event`` invocations: accepted, claimed under a lease, succeeded, retried,
    or left dead with their error and re-driven. Kept beside the runs, in the same
    database, in a table of its own.

    The invocations are a work queue (``queue``, ids the request ids, grouped by function);
    the methods below that claim, finish, list or re-drive them are thin views of it. The
    notes name the calls by backend: none in memory, ``sqlite3`` on the store's writer
    thread for SQLite, an ``asyncpg`` pool for PostgreSQL.
    """

    queue: IWorkQueueStore[AsyncInvocation]

    async def open(self) -> None:
        """Connect and bring the table up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the invocations' table if missing; applies pending migrations.

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

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        """Store a new invocation (``queued``, no attempts yet, due at its
        ``next_attempt_at``), committed before this returns, unless its function already
        has ``max_queued`` queued invocations.

        Args:
            invocation: The new invocation (its payload as bytes).
            max_queued: The most queued invocations its function may have; None: no cap.

        Returns:
            True when it was stored; False when the function's queue was full (nothing was
            written).

        Raises:
            TypeError: The payload is not bytes.
            ValueError: An invocation with this ``request_id`` is already stored, or the
                invocation is not new (not queued, or with attempts, an error or a finish
                time).
            RunStoreError: The write failed.

        Side Effects:
            One committed transaction.

        Note:
            The count and the insert are one transaction; on PostgreSQL, nodes accepting
            at the same instant may each see the count below the cap, so a queue may end
            a few over ``max_queued`` (at most one per concurrent enqueue). A ``SELECT
            count(*)`` and one ``INSERT``.
        """
        ...

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_functions: Collection[str] = (),
    ) -> list[AsyncInvocation]:
        """Queued invocations due by ``now`` that nobody holds (or whose lease lapsed), of
        functions not in ``skip_functions`` (those the caller cannot run more of now),
        oldest due first, now leased to ``owner`` until ``now + lease_seconds``; each claim
        counts as an attempt (the returned records show it counted).

        Args:
            owner: The node claiming.
            now: Unix seconds.
            lease_seconds: How long the claim lasts.
            limit: Invocations at most.
            skip_functions: Functions the caller cannot run more of now.

        Returns:
            The claimed invocations.

        Raises:
            ValueError: ``lease_seconds`` is not > 0 or ``limit`` not a whole number >= 0.
            RunStoreError: The store failed.

        Side Effects:
            Leases them to ``owner`` and counts the attempts.

        Note:
            One ``UPDATE ... RETURNING`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
        """
        ...

    async def release(self, owner: str, now: float) -> int:
        """Make every queued invocation ``owner`` holds due at ``now`` and unheld (its
        attempt was cut short: the node restarted or stopped); the claims stay counted.

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
            One ``UPDATE ... WHERE owner = ?``.
        """
        ...

    async def succeed(self, request_id: str, now: float) -> None:
        """Mark an invocation succeeded and release its lease (a no-op when it is not
        queued).

        Args:
            request_id: The invocation.
            now: Unix seconds it finished.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE`` by request id.
        """
        ...

    async def fail(
        self,
        request_id: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        """Record a failed attempt: queued again from ``retry_at``, or dead when it is None
        (``finished_at`` = ``now``); the lease is released either way, ``error`` kept (None
        keeps the last one: an attempt put off, not failed).

        Args:
            request_id: The invocation.
            error: Why it failed (None: it was put off, not failed).
            now: Unix seconds.
            retry_at: Unix seconds of the next attempt; None leaves it dead.
            counted: False when the attempt never reached the function (throttled): its
                claim is not counted against the attempts allowed.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE`` by request id.
        """
        ...

    async def get(self, request_id: str) -> AsyncInvocation | None:
        """One invocation.

        Args:
            request_id: Its id (``x-amzn-RequestId`` when it was accepted).

        Returns:
            The invocation, or None.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` by request id.
        """
        ...

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        """Invocations, oldest accepted first.

        Args:
            status: Only those in this status.
            function: Only this function's.
            limit: Invocations at most.

        Returns:
            The invocations (payloads included).

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT ... ORDER BY accepted_at LIMIT``.
        """
        ...

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        """Queue dead invocations again, due at ``now`` with no attempts and no error:
        those of ``request_ids`` (when given), else every dead one (of ``function``, when
        given; with both, only those of the ids that are of ``function``). Ids that are
        unknown or not dead are left alone.

        Args:
            now: Unix seconds: they are due from then.
            request_ids: Only these.
            function: Only this function's.

        Returns:
            The ids re-queued.

        Raises:
            TypeError: ``request_ids`` is a single string or holds a non-string.
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE ... WHERE status = 'dead' ... RETURNING request_id``.
        """
        ...

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        """Delete succeeded invocations finished before ``before``.

        Args:
            before: Unix seconds.
            limit: Invocations at most in this call.

        Returns:
            How many were deleted.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            Deletes rows (their payloads with them).

        Note:
            One ``DELETE`` of the oldest succeeded rows.
        """
        ...
