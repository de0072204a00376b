"""``PostgresJobStore``: job runs in PostgreSQL, in the run store's schema (the table and
its version table are its own), shared by every node. Each call is one statement on a
small pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from lockgate.errors import LockgateError, RunStoreError
from lockgate.gateways.event_store_schema import check_limit
from lockgate.gateways.postgres_support import DRIVER_ERRORS, SchemaPool
from lockgate.gateways.queue_store_schema import (
    JOB_RUN_COLUMNS,
    JOB_VERSIONS,
    POSTGRES_JOB_MIGRATIONS,
    job_run,
    job_run_row,
)
from lockgate.models.job import JobRun

__all__ = ["PostgresJobStore"]

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
_MIGRATION_LOCK = 0x4C6B4A62  # with hashtext(schema): one advisory lock per schema
_UPSERT = (
    f"INSERT INTO lockgate_job_runs ({JOB_RUN_COLUMNS}) "  # noqa: S608
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (run_id) DO UPDATE SET job = excluded.job, parameters = excluded.parameters, "
    "created_at = excluded.created_at, external_id = excluded.external_id, "
    "status = excluded.status, message = excluded.message, exit_code = excluded.exit_code, "
    "finished_at = excluded.finished_at"
)
_GET = f"SELECT {JOB_RUN_COLUMNS} FROM lockgate_job_runs WHERE run_id = $1"  # noqa: S608
_LIST = (
    f"SELECT {JOB_RUN_COLUMNS} FROM lockgate_job_runs "  # noqa: S608 - constant text
    "WHERE ($1::text IS NULL OR job = $1) AND (NOT $2 OR status IN ('QUEUED', 'RUNNING')) "
    "ORDER BY created_at DESC, run_id DESC LIMIT $3"
)


class PostgresJobStore:
    """Job runs in ``{schema}.lockgate_job_runs``.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the table (created if missing).
        max_size: Connections in the store's pool.

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(self, dsn: str, *, schema: str = "lockgate", max_size: int = 2) -> None:
        self._tables = SchemaPool(
            dsn,
            schema=schema,
            what="the job store",
            versions_table=JOB_VERSIONS,
            migrations=POSTGRES_JOB_MIGRATIONS,
            lock_key=_MIGRATION_LOCK,
            error=RunStoreError,
            max_size=max_size,
        )
        self.schema = self._tables.schema

    def __repr__(self) -> str:
        return f"PostgresJobStore({self._tables.redactor.dsn!r}, schema={self.schema!r})"

    def _error(self, action: str, exc: BaseException) -> LockgateError:
        return self._tables.fail(action, exc)

    async def open(self) -> None:
        await self._tables.open()

    async def close(self) -> None:
        await self._tables.close()

    def _ready(self) -> _Pool:
        return self._tables.ready()

    async def save(self, run: JobRun) -> None:
        row = job_run_row(run)
        pool = self._ready()
        try:
            await pool.execute(_UPSERT, *row)
        except DRIVER_ERRORS as exc:
            raise self._error(f"cannot save job run {run.run_id}", exc) from exc

    async def get(self, run_id: str) -> JobRun | None:
        pool = self._ready()
        try:
            row = await pool.fetchrow(_GET, run_id)
        except DRIVER_ERRORS as exc:
            raise self._error(f"cannot read job run {run_id}", exc) from exc
        return None if row is None else job_run(row)

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        check_limit(limit)
        pool = self._ready()
        try:
            rows = await pool.fetch(_LIST, job, bool(unfinished), limit)
        except DRIVER_ERRORS as exc:
            raise self._error("cannot list job runs", exc) from exc
        return [job_run(row) for row in rows]
