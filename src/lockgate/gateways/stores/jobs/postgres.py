"""``PostgresJobStore``: job runs in PostgreSQL, in the run store's schema (the table and
its version table are its own), shared by every node. Each call is one statement on a
small pool."""

from __future__ import annotations

from lockgate.errors import RunStoreError
from lockgate.gateways.stores.arguments import check_limit
from lockgate.gateways.stores.jobs.schema import (
    JOB_RUN_COLUMNS,
    JOB_RUN_UPSERT,
    JOB_VERSIONS,
    POSTGRES_JOB_MIGRATIONS,
    job_run,
    job_run_row,
)
from lockgate.gateways.stores.postgres_base import SchemaPool, SchemaPoolStore
from lockgate.models.job import JobRun

__all__ = ["PostgresJobStore"]

_MIGRATION_LOCK = 0x4C6B4A62  # with hashtext(schema): one advisory lock per schema
_UPSERT = (
    f"INSERT INTO lockgate_job_runs ({JOB_RUN_COLUMNS}) "  # noqa: S608
    f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) {JOB_RUN_UPSERT}"
)
_GET = f"SELECT {JOB_RUN_COLUMNS} FROM lockgate_job_runs WHERE run_id = $1"  # noqa: S608
_LIST = (
    f"SELECT {JOB_RUN_COLUMNS} FROM lockgate_job_runs "  # noqa: S608 - constant text
    "WHERE ($1::text IS NULL OR job = $1) AND (NOT $2 OR status IN ('QUEUED', 'RUNNING')) "
    "ORDER BY created_at DESC, run_id DESC LIMIT $3"
)


class PostgresJobStore(SchemaPoolStore):
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
        super().__init__(
            SchemaPool(
                dsn,
                schema=schema,
                what="the job store",
                versions_table=JOB_VERSIONS,
                migrations=POSTGRES_JOB_MIGRATIONS,
                lock_key=_MIGRATION_LOCK,
                error=RunStoreError,
                max_size=max_size,
            )
        )

    async def save(self, run: JobRun) -> None:
        row = job_run_row(run)
        await self._tables.execute(f"cannot save job run {run.run_id}", _UPSERT, *row)

    async def get(self, run_id: str) -> JobRun | None:
        row = await self._tables.fetchrow(f"cannot read job run {run_id}", _GET, run_id)
        return None if row is None else job_run(row)

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        check_limit(limit)
        rows = await self._tables.fetch("cannot list job runs", _LIST, job, bool(unfinished), limit)
        return [job_run(row) for row in rows]
