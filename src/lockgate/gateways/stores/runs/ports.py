"""``IRunStore``: where workflow runs and their step checkpoints are kept, durably.

The notes name each method's calls by backend: the in-memory store makes none; the SQLite
one runs statements on its own writer thread (``sqlite3``, WAL, group commit); the
PostgreSQL one through an ``asyncpg`` pool.
"""

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

        Note:
            ``sqlite3.connect`` (WAL, ``synchronous=FULL``) on the writer thread, or
            ``asyncpg.create_pool``; migrations run under a lock (``BEGIN IMMEDIATE``, an
            advisory lock) so two nodes never apply one twice.
        """
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect. Idempotent.

        Raises:
            Nothing: a store that failed to open closes quietly.

        Side Effects:
            Waits for queued writes to commit; later calls fail until ``open``.

        Note:
            Ends the SQLite writer thread and its connection, or closes the ``asyncpg`` pool.
        """
        ...

    async def ping(self) -> None:
        """Prove the store answers now, as cheaply as it can (for readiness probes).

        Raises:
            RunStoreError: The store is not open or cannot be reached; the message says why
                (without a password).

        Side Effects:
            None; a PostgreSQL store reconnects its writer if the connection was lost.

        Note:
            None in memory; one ``SELECT`` on the SQLite reader thread; a ``SELECT 1``
            through the PostgreSQL writer's queue, the path every checkpoint takes.
        """
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

        Side Effects:
            One committed write (the run and its idempotency key), shared with concurrent
            writers' commit.

        Note:
            An ``INSERT`` of the run and, with a key, ``INSERT ... ON CONFLICT DO NOTHING``
            of the key then a read of the run that holds it.
        """
        ...

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        """Commit one step's checkpoint (a completed step's output, or a failure).

        Args:
            run_id: The run.
            step: The step's record and its output JSON.

        Raises:
            RunStoreError: The write failed (the run stays unfinished, and is resumed).

        Side Effects:
            One committed write, shared with concurrent writers' commit.

        Note:
            One write, no read (``INSERT ... ON CONFLICT DO UPDATE``). Saving a step twice
            keeps the later record.
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

        Args:
            run_id: The run.
            status: ``completed``, ``failed`` or ``cancelled``.
            error: Why it failed or was cancelled.
            steps: Step records not saved yet (the last step's, interrupted ones').
            at: Unix seconds it finished.

        Returns:
            False (and nothing written) when the run had already finished (for instance
            cancelled by another node).

        Raises:
            RunStoreError: The write failed (the run stays unfinished, and is resumed).

        Side Effects:
            One committed transaction: the steps, the status, the lease released.

        Note:
            An ``UPDATE ... WHERE status = 'running'`` (its row count is the answer) and the
            steps' ``INSERT``s.
        """
        ...

    async def get_run(self, run_id: str) -> RunRecord | None:
        """A run by id.

        Args:
            run_id: The run.

        Returns:
            The run with every recorded step, or None.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            Two ``SELECT``s: the run, and its steps.
        """
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
        """Runs newest first, filtered, one page at a time (without their step outputs).

        Args:
            workflow_id: Only this workflow's runs.
            status: Only runs in this status.
            limit: Runs at most on the page.
            cursor: Where the previous page ended (its ``next_cursor``).
            principal: Only the runs it started.

        Returns:
            The page, and the cursor of the next one (None: the last).

        Raises:
            ValueError: ``cursor`` is not one this store returned.
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT ... ORDER BY created_at DESC, run_id DESC LIMIT`` (keyset paging).
        """
        ...

    async def claim_runs(
        self, owner: str, lease_seconds: float, now: float, *, own: bool = True
    ) -> list[RunRecord]:
        """Take over unfinished runs: ``owner``'s own (it restarted; only with ``own``),
        ownerless ones and any whose lease expired (their node died), each with its
        recorded steps.

        Args:
            owner: The node claiming.
            lease_seconds: How long its claim lasts without renewal.
            now: Unix seconds: leases ending before it have expired.
            own: Take ``owner``'s own unfinished runs too (at start-up).

        Returns:
            The claimed runs, each with its recorded steps (read once, here).

        Raises:
            RunStoreError: The claim failed; nothing was taken.

        Side Effects:
            Sets the claimed runs' owner and lease.

        Note:
            An ``UPDATE ... RETURNING`` of the claimable runs and a read of their steps; on
            PostgreSQL concurrent claimers never take the same run (``SKIP LOCKED``).
        """
        ...

    async def renew_leases(self, owner: str, lease_seconds: float, now: float) -> list[str]:
        """Extend the lease of every unfinished run ``owner`` holds (its heartbeat).

        Args:
            owner: The node.
            lease_seconds: The new lease, from ``now``.
            now: Unix seconds.

        Returns:
            The ids of those runs: one ``owner`` executes but is missing here was taken
            over or ended by another node.

        Raises:
            RunStoreError: The write failed (the heartbeat tries again).

        Side Effects:
            One committed write.

        Note:
            One ``UPDATE ... WHERE owner = ? AND status = 'running' RETURNING run_id``.
        """
        ...

    async def purge_runs(self, finished_before: float, limit: int = 1000) -> int:
        """Delete up to ``limit`` runs that finished before ``finished_before``, oldest
        first, with their steps and idempotency keys (a key is free again afterwards).

        Args:
            finished_before: Unix seconds.
            limit: Runs at most in this call (the caller loops in bounded batches).

        Returns:
            How many runs were deleted (``limit`` means more may be left).

        Raises:
            RunStoreError: The write failed; nothing was deleted.

        Side Effects:
            Deletes; never touches a running run.

        Note:
            ``DELETE``s of the oldest finished runs' steps, keys and rows, in one
            transaction.
        """
        ...
