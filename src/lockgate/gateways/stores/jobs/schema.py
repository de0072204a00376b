"""The job store's schema, as numbered migrations versioned in their own table
(``lockgate_job_schema``) so it evolves apart from the run store's in the same database, and
what its memory, SQLite and PostgreSQL implementations share: row encoding/decoding. Never
edit a released script: append a new one.
"""

from __future__ import annotations

from typing import Any

from lockgate import json_codec
from lockgate.models.job import JobRun, JobStatus

__all__ = [
    "JOB_RUN_COLUMNS",
    "JOB_RUN_UPSERT",
    "JOB_VERSIONS",
    "POSTGRES_JOB_MIGRATIONS",
    "SQLITE_JOB_MIGRATIONS",
    "UNFINISHED_JOB_STATUSES",
    "job_run",
    "job_run_row",
]

JOB_VERSIONS = "lockgate_job_schema"
# In JobRun's field order.
JOB_RUN_COLUMNS = (
    "run_id, job, parameters, created_at, external_id, status, message, exit_code, finished_at"
)
# After an INSERT of JOB_RUN_COLUMNS: a run saved again overwrites every column but its id.
JOB_RUN_UPSERT = "ON CONFLICT (run_id) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in JOB_RUN_COLUMNS.split(", ")[1:]
)
UNFINISHED_JOB_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def job_run(row: Any) -> JobRun:
    """A ``JobRun`` from a row of ``JOB_RUN_COLUMNS`` (parameters stored as JSON)."""
    return JobRun(
        run_id=row[0],
        job=row[1],
        parameters=json_codec.loads(bytes(row[2])),
        created_at=row[3],
        external_id=row[4],
        status=JobStatus(row[5]),
        message=row[6],
        exit_code=row[7],
        finished_at=row[8],
    )


def job_run_row(run: JobRun) -> tuple[Any, ...]:
    """``run`` as a row of ``JOB_RUN_COLUMNS``."""
    return (
        run.run_id,
        run.job,
        json_codec.dumps(dict(run.parameters)),
        run.created_at,
        run.external_id,
        JobStatus(run.status).value,
        run.message,
        run.exit_code,
        run.finished_at,
    )


SQLITE_JOB_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE lockgate_job_runs (
            run_id      TEXT PRIMARY KEY,
            job         TEXT NOT NULL,
            parameters  BLOB NOT NULL,
            created_at  REAL NOT NULL,
            external_id TEXT,
            status      TEXT NOT NULL,
            message     TEXT NOT NULL,
            exit_code   INTEGER,
            finished_at REAL
        )
        """,
        "CREATE INDEX lockgate_job_runs_created ON lockgate_job_runs (created_at, run_id)",
        "CREATE INDEX lockgate_job_runs_job ON lockgate_job_runs (job, created_at, run_id)",
        "CREATE INDEX lockgate_job_runs_unfinished ON lockgate_job_runs (created_at, run_id) "
        "WHERE status IN ('QUEUED', 'RUNNING')",
    ),
)

# Parameters are JSON in bytea, as the run store keeps its JSON: never queried inside.
POSTGRES_JOB_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE {schema}.lockgate_job_runs (
            run_id      text COLLATE "C" PRIMARY KEY,
            job         text COLLATE "C" NOT NULL,
            parameters  bytea NOT NULL,
            created_at  double precision NOT NULL,
            external_id text,
            status      text NOT NULL,
            message     text NOT NULL,
            exit_code   bigint,
            finished_at double precision
        )
        """,
        "CREATE INDEX lockgate_job_runs_created ON {schema}.lockgate_job_runs (created_at, run_id)",
        "CREATE INDEX lockgate_job_runs_job ON {schema}.lockgate_job_runs "
        "(job, created_at, run_id)",
        "CREATE INDEX lockgate_job_runs_unfinished ON {schema}.lockgate_job_runs "
        "(created_at, run_id) WHERE status IN ('QUEUED', 'RUNNING')",
    ),
)
