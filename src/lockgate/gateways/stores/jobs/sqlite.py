"""``SQLiteJobStore``: job runs in a SQLite file (the run store's file may be shared: the
table and its version table are its own).

Each call runs plain sqlite3 on one dedicated thread, one ``BEGIN IMMEDIATE`` transaction
per call; WAL with ``synchronous=FULL`` by default, like the run store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.arguments import check_limit
from lockgate.gateways.stores.jobs.schema import (
    JOB_RUN_COLUMNS,
    JOB_RUN_UPSERT,
    JOB_VERSIONS,
    SQLITE_JOB_MIGRATIONS,
    job_run,
    job_run_row,
)
from lockgate.gateways.stores.sqlite_base import SQLiteStore, SQLiteWorker, sqlite_pragmas
from lockgate.models.job import JobRun

__all__ = ["SQLiteJobStore"]

_UPSERT = (
    f"INSERT INTO lockgate_job_runs ({JOB_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
    f"{JOB_RUN_UPSERT}"
)
_GET = f"SELECT {JOB_RUN_COLUMNS} FROM lockgate_job_runs WHERE run_id = ?"  # noqa: S608
_LIST = (
    f"SELECT {JOB_RUN_COLUMNS} FROM lockgate_job_runs "  # noqa: S608 - constant text
    "WHERE (?1 IS NULL OR job = ?1) AND (NOT ?2 OR status IN ('QUEUED', 'RUNNING')) "
    "ORDER BY created_at DESC, run_id DESC LIMIT ?3"
)


class SQLiteJobStore(SQLiteStore):
    """Job runs in the table ``lockgate_job_runs`` of the SQLite file ``path``.

    Args:
        path: The database file (its folder is created).
        synchronous: ``FULL`` survives power loss; ``NORMAL`` only a process crash.

    Raises:
        ValueError: ``synchronous`` is neither.
    """

    def __init__(
        self, path: Path | str, *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> None:
        super().__init__(
            SQLiteWorker(
                Path(path),
                what="the job store",
                versions_table=JOB_VERSIONS,
                migrations=SQLITE_JOB_MIGRATIONS,
                error=RunStoreError,
                pragmas=sqlite_pragmas(synchronous),
            )
        )

    async def save(self, run: JobRun) -> None:
        row = job_run_row(run)
        await self._run(f"save of job run {run.run_id}", lambda c: c.execute(_UPSERT, row))

    async def get(self, run_id: str) -> JobRun | None:
        def read(connection: sqlite3.Connection) -> JobRun | None:
            row = connection.execute(_GET, (run_id,)).fetchone()
            return None if row is None else job_run(row)

        return await self._run(f"read of job run {run_id}", read)

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        check_limit(limit)
        args = (job, bool(unfinished), limit)

        def read(connection: sqlite3.Connection) -> list[JobRun]:
            return [job_run(row) for row in connection.execute(_LIST, args)]

        return await self._run("listing of job runs", read)
