"""``IJobStore``: job runs, kept beside the workflow runs."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.job import JobRun

__all__ = ["IJobStore"]


@runtime_checkable
class IJobStore(Protocol):
    """Job runs, kept beside the workflow runs in the same database."""

    async def open(self) -> None:
        """Connect and bring the table up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def save(self, run: JobRun) -> None:
        """Insert or replace ``run`` (by ``run_id``), committed before this returns.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def get(self, run_id: str) -> JobRun | None:
        """One run, or None.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        """Runs, newest first, optionally only of ``job`` and only those not finished.

        Raises:
            ValueError: ``limit`` is not a whole number >= 0.
            RunStoreError: The read failed.
        """
        ...
