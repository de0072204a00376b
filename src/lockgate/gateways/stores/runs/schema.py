"""The run store's schema, as numbered migrations (version N is the Nth script).

A store records the versions it applied in ``lockgate_schema`` and applies the missing ones
at open, in one transaction; a database newer than the code is refused. Never edit a
released script: append a new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lockgate.gateways.stores.runs.ports import StepWrite
from lockgate.models.run import RunStatus

__all__ = [
    "POSTGRES_MIGRATIONS",
    "RUN_COLUMNS",
    "SQLITE_MIGRATIONS",
    "STEP_COLUMNS",
    "check_cursor",
    "list_query",
    "step_row",
]

# The columns both stores read, in RunRecord's and StepRecord's field order.
RUN_COLUMNS = (
    "run_id, workflow_id, status, parameters, resources, context, idempotency_key, "
    "request_hash, created_at, updated_at, deadline, error, principal"
)
STEP_COLUMNS = "name, status, output, error, attempts, started_at, finished_at"


def step_row(run_id: str, write: StepWrite) -> tuple[Any, ...]:
    """A step write as the row ``run_id, STEP_COLUMNS``."""
    r, out = write
    return (run_id, r.name, r.status.value, out, r.error, r.attempts, r.started_at, r.finished_at)


_CURSOR = re.compile(r"[0-9a-f]{1,64}")


def check_cursor(cursor: str) -> str:
    """A listing cursor is the id of the last run of the previous page.

    Raises:
        ValueError: ``cursor`` cannot be such an id.
    """
    if not _CURSOR.fullmatch(cursor):
        raise ValueError(f"cursor {cursor!r} is not one this store returned")
    return cursor


def list_query(
    columns: str,
    *,
    workflow_id: str | None,
    status: RunStatus | None,
    cursor: str | None,
    limit: int,
    placeholder: Callable[[int], str],
    principal: str | None = None,
) -> tuple[str, list[Any]]:
    """The query of one page of a run listing (newest first, one row past the page to tell
    whether another follows) and its arguments; ``placeholder(n)`` spells the n-th bound
    parameter (``?`` for SQLite, ``$n`` for PostgreSQL).

    Raises:
        ValueError: ``cursor`` is not a run id.
    """
    clauses: list[str] = []
    arguments: list[Any] = []
    for clause, value in (
        ("workflow_id = ", workflow_id),
        ("status = ", status.value if status is not None else None),
        ("principal = ", principal),
        ("run_id < ", check_cursor(cursor) if cursor is not None else None),
    ):
        if value is not None:
            arguments.append(value)
            clauses.append(clause + placeholder(len(arguments)))
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    arguments.append(limit + 1)
    query = (
        f"SELECT {columns} FROM lockgate_runs {where}"  # noqa: S608 (constants and placeholders)
        f"ORDER BY run_id DESC LIMIT {placeholder(len(arguments))}"
    )
    return query, arguments


SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs and their step checkpoints. Run ids sort by creation time and every index
    # but the one on running runs only grows at its right edge, so a commit touches few
    # pages; idempotency keys have their own table, written only by runs that have one.
    (
        """
        CREATE TABLE lockgate_runs (
            run_id          TEXT PRIMARY KEY,
            workflow_id     TEXT NOT NULL,
            status          TEXT NOT NULL,
            parameters      BLOB NOT NULL,
            resources       BLOB NOT NULL,
            context         BLOB NOT NULL,
            idempotency_key TEXT,
            request_hash    TEXT NOT NULL,
            created_at      REAL NOT NULL,
            updated_at      REAL NOT NULL,
            deadline        REAL,
            error           TEXT,
            owner           TEXT,
            lease_until     REAL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX lockgate_runs_by_workflow ON lockgate_runs (workflow_id, run_id)",
        "CREATE INDEX lockgate_runs_running ON lockgate_runs (run_id) WHERE status = 'running'",
        """
        CREATE TABLE lockgate_idempotency (
            key    TEXT PRIMARY KEY,
            run_id TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE lockgate_steps (
            run_id      TEXT NOT NULL,
            name        TEXT NOT NULL,
            status      TEXT NOT NULL,
            output      BLOB,
            error       TEXT,
            attempts    INTEGER NOT NULL,
            started_at  REAL,
            finished_at REAL,
            PRIMARY KEY (run_id, name)
        ) WITHOUT ROWID
        """,
    ),
    # 2: who started each run, for runs:read:own listings.
    (
        "ALTER TABLE lockgate_runs ADD COLUMN principal TEXT",
        "CREATE INDEX lockgate_runs_by_principal ON lockgate_runs (principal, run_id)",
    ),
)


POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the layout of SQLite's 1, in the schema the store is given (``{schema}``, quoted by
    # the store). JSON values are bytea: they arrive as orjson bytes, leave through orjson and
    # are never queried inside, so jsonb would only add a parse on every write and a
    # conversion on every read. Run ids are hex and compare bytewise (COLLATE "C"), which
    # keeps the listing order and makes the primary key's comparisons cheap.
    (
        """
        CREATE TABLE {schema}.lockgate_runs (
            run_id          text COLLATE "C" PRIMARY KEY,
            workflow_id     text NOT NULL,
            status          text NOT NULL,
            parameters      bytea NOT NULL,
            resources       bytea NOT NULL,
            context         bytea NOT NULL,
            idempotency_key text,
            request_hash    text NOT NULL,
            created_at      double precision NOT NULL,
            updated_at      double precision NOT NULL,
            deadline        double precision,
            error           text,
            owner           text,
            lease_until     double precision
        )
        """,
        "CREATE INDEX lockgate_runs_by_workflow ON {schema}.lockgate_runs (workflow_id, run_id)",
        "CREATE INDEX lockgate_runs_running ON {schema}.lockgate_runs (run_id) "
        "WHERE status = 'running'",
        """
        CREATE TABLE {schema}.lockgate_idempotency (
            key    text PRIMARY KEY,
            run_id text COLLATE "C" NOT NULL
        )
        """,
        """
        CREATE TABLE {schema}.lockgate_steps (
            run_id      text COLLATE "C" NOT NULL,
            name        text NOT NULL,
            status      text NOT NULL,
            output      bytea,
            error       text,
            attempts    integer NOT NULL,
            started_at  double precision,
            finished_at double precision,
            PRIMARY KEY (run_id, name)
        )
        """,
    ),
    # 2: who started each run, for runs:read:own listings.
    (
        "ALTER TABLE {schema}.lockgate_runs ADD COLUMN principal text",
        "CREATE INDEX lockgate_runs_by_principal ON {schema}.lockgate_runs (principal, run_id)",
    ),
)
