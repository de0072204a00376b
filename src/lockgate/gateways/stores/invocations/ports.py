"""``IAsyncInvocationStore``: durable ``Event`` invocations, leased to one node at a time,
retried, or dead."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["IAsyncInvocationStore"]


@runtime_checkable
class IAsyncInvocationStore(Protocol):
    """Durable ``Event`` invocations: accepted, claimed under a lease, succeeded, retried,
    or left dead with their error and re-driven. Kept beside the runs, in the same
    database, in a table of its own.
    """

    async def open(self) -> None:
        """Connect and bring the table up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        """Store a new invocation (``queued``, no attempts yet, due at its
        ``next_attempt_at``), committed before this returns, unless its function already
        has ``max_queued`` queued invocations.

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
            a few over ``max_queued`` (at most one per concurrent enqueue).
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

        Raises:
            ValueError: ``lease_seconds`` is not > 0 or ``limit`` not a whole number >= 0.
            RunStoreError: The store failed.
        """
        ...

    async def release(self, owner: str, now: float) -> int:
        """Make every queued invocation ``owner`` holds due at ``now`` and unheld (its
        attempt was cut short: the node restarted or stopped); the claims stay counted.

        Returns:
            How many were released.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def succeed(self, request_id: str, now: float) -> None:
        """Mark an invocation succeeded and release its lease (a no-op when it is not
        queued).

        Raises:
            RunStoreError: The write failed.
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
            counted: False when the attempt never reached the function (throttled): its
                claim is not counted against the attempts allowed.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def get(self, request_id: str) -> AsyncInvocation | None:
        """One invocation, or None.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        """Invocations, oldest accepted first, optionally only those in ``status`` and of
        ``function``.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.
        """
        ...

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        """Queue dead invocations again, due at ``now`` with no attempts and no error:
        those of ``request_ids`` (when given), else every dead one (of ``function``, when
        given; with both, only those of the ids that are of ``function``). Ids that are
        unknown or not dead are left alone.

        Returns:
            The ids re-queued.

        Raises:
            TypeError: ``request_ids`` is a single string or holds a non-string.
            RunStoreError: The write failed.
        """
        ...

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        """Delete succeeded invocations finished before ``before``; returns how many.

        Raises:
            RunStoreError: The write failed.
        """
        ...
