"""``IJobStore``: job runs, kept beside the workflow runs."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.job import JobRun

__all__ = ["IJobStore"]


@runtime_checkable
class IJobStore(Protocol):
    """Job runs, kept beside the workflow runs in the same database.

    The notes name the calls by backend: none in memory, ``sqlite3`` on the store's writer
    thread for SQLite, an ``asyncpg`` pool for PostgreSQL.
    """

    async def open(self) -> None:
        """Connect and bring the table up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the job runs' table if missing, and applies pending migrations.

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

    async def save(self, run: JobRun) -> None:
        """Insert or replace ``run`` (by ``run_id``), committed before this returns.

        Args:
            run: The run as it stands now.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``INSERT ... ON CONFLICT (run_id) DO UPDATE``.
        """
        ...

    async def get(self, run_id: str) -> JobRun | None:
        """One run.

        Args:
            run_id: The run's id.

        Returns:
            The run, or None.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` by id.
        """
        ...

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        """Runs, newest first.

        Args:
            job: Only this job's runs.
            unfinished: Only runs not finished (``QUEUED``, ``RUNNING``).
            limit: Runs at most.

        Returns:
            The runs, newest first.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT ... ORDER BY created_at DESC LIMIT``.
        """
        ...
