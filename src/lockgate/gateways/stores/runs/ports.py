"""``IRunStore``: where workflow runs and their step checkpoints are kept, durably."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from lockgate.models.run import RunPage, RunRecord, RunStatus, StepRecord

__all__ = ["IRunStore", "StepWrite"]

StepWrite = tuple[StepRecord, bytes | None]
"""A step's record and its output as JSON text (None when it has no output)."""


@runtime_checkable
class IRunStore(Protocol):
    """Where runs and their step checkpoints are kept, durably.

    Every write is committed when its coroutine returns; concurrent writers share commits
    (group commit), so a write may wait for others' to join its batch. Writes never read
    first: a run's checkpoints are read once, when it is claimed after a restart.
    """

    async def open(self) -> None:
        """Connect and bring the schema up to the current version.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the database (file or tables) and applies pending migrations.
        """
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect. Idempotent."""
        ...

    async def create_run(
        self, run: RunRecord, *, owner: str, lease_seconds: float, wait: bool = True
    ) -> RunRecord:
        """Record a new run, owned by ``owner`` for ``lease_seconds``.

        Args:
            run: The run, status ``running``, with no steps.
            owner: The node that will execute it (its lease is renewed by ``renew_leases``).
            lease_seconds: How long the claim lasts without renewal.
            wait: False returns before the commit; allowed only without an idempotency
                key. The run is committed no later than the next write of this store, so
                a step checkpoint never becomes durable without its run.

        Returns:
            ``run`` as stored; for an idempotency key already used, the earlier run
            (with its steps) instead. The caller compares ``request_hash``.

        Raises:
            RunStoreError: The write failed; nothing was recorded.
        """
        ...

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        """Commit one step's checkpoint (a completed step's output, or a failure).

        Note:
            One write, no read. Saving a step twice keeps the later record.
        """
        ...

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        """Commit the run's final status with its last step records, in one transaction.

        Returns:
            False (and nothing written) when the run had already finished (for instance
            cancelled by another node).
        """
        ...

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run with every recorded step, or None."""
        ...

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        principal: str | None = None,
    ) -> RunPage:
        """Runs newest first, filtered (``principal``: only the runs it started), one page
        at a time (without their step outputs).

        Raises:
            ValueError: ``cursor`` is not one this store returned.
        """
        ...

    async def claim_runs(
        self, owner: str, lease_seconds: float, now: float, *, own: bool = True
    ) -> list[RunRecord]:
        """Take over unfinished runs: ``owner``'s own (it restarted; only with ``own``),
        ownerless ones and any whose lease expired (their node died), each with its
        recorded steps.

        Side Effects:
            Sets the claimed runs' owner and lease.

        Note:
            On PostgreSQL concurrent claimers never take the same run (``SKIP LOCKED``).
        """
        ...

    async def renew_leases(self, owner: str, lease_seconds: float, now: float) -> list[str]:
        """Extend the lease of every unfinished run ``owner`` holds (its heartbeat).

        Returns:
            The ids of those runs: one ``owner`` executes but is missing here was taken
            over or ended by another node.
        """
        ...

    async def purge_runs(self, finished_before: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` runs that finished before ``finished_before``, oldest
        first, with their steps and idempotency keys (a key is free again afterwards).

        Returns:
            How many runs were deleted (``limit`` means more may be left).

        Side Effects:
            Deletes; never touches a running run.
        """
        ...
