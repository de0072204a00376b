"""The PostgreSQL run store's statements, and how a batch of queued writes becomes as few
statements (and round trips) as it can.

Statements name tables without their schema: every connection's search_path is the store's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import asyncpg

from lockgate.gateways.stores.runs.schema import RUN_COLUMNS, STEP_COLUMNS

__all__ = [
    "CLAIM",
    "FINISH",
    "INSERT_RUN",
    "PURGE",
    "PURGE_KEYS",
    "PURGE_STEPS",
    "RENEW",
    "SELECT_STEPS",
    "TAKE_KEY",
    "UPSERT_STEP",
    "WriteOp",
    "apply_batch",
]

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Connection: TypeAlias = asyncpg.Connection[asyncpg.Record]

PARAMS = [f"${n}" for n in range(25)]  # PARAMS[n] == "$n"


INSERT_RUN = (
    f"INSERT INTO lockgate_runs ({RUN_COLUMNS}, owner, lease_until) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
)
ON_STEP_CONFLICT = (
    "ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, "
    "output = excluded.output, error = excluded.error, attempts = excluded.attempts, "
    "started_at = excluded.started_at, finished_at = excluded.finished_at"
)
UPSERT_STEP = (
    f"INSERT INTO lockgate_steps (run_id, {STEP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    + ON_STEP_CONFLICT
)
SELECT_STEPS = f"SELECT run_id, {STEP_COLUMNS} FROM lockgate_steps WHERE run_id = ANY($1::text[])"
TAKE_KEY = (
    "INSERT INTO lockgate_idempotency (key, run_id) VALUES ($1, $2) "
    "ON CONFLICT (key) DO NOTHING RETURNING run_id"
)
STEP_ARRAYS = (
    "{0}::text[], {1}::text[], {2}::bytea[], {3}::text[], {4}::int[], {5}::float8[], {6}::float8[]"
)
# The status and the last steps in one statement (one round trip, atomic without BEGIN and
# COMMIT); the steps are written only if the run was still running.
FINISH = (
    "WITH finished AS (UPDATE lockgate_runs SET status = $1, error = $2, updated_at = $3, "
    "owner = NULL WHERE run_id = $4 AND status = 'running' RETURNING run_id), "
    f"written AS (INSERT INTO lockgate_steps (run_id, {STEP_COLUMNS}) "
    f"SELECT finished.run_id, s.* FROM finished, unnest({STEP_ARRAYS.format(*PARAMS[5:12])}) "
    f"AS s {ON_STEP_CONFLICT} RETURNING 1) "
    "SELECT count(*) FROM finished"
)
# The finishes of one batch in one statement: each run's status, and its last steps if it
# was still running; returns the runs it finished.
FINISH_MANY = (
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[]) "
    "AS u(run_id, status, error, at)), "
    "finished AS (UPDATE lockgate_runs r SET status = u.status, error = u.error, "
    "updated_at = u.at, owner = NULL FROM u WHERE r.run_id = u.run_id "
    "AND r.status = 'running' RETURNING r.run_id), "
    f"written AS (INSERT INTO lockgate_steps (run_id, {STEP_COLUMNS}) SELECT s.* FROM "
    f"unnest($5::text[], {STEP_ARRAYS.format(*PARAMS[6:13])}) AS s(run_id, {STEP_COLUMNS}) "
    f"JOIN finished f ON f.run_id = s.run_id {ON_STEP_CONFLICT} RETURNING 1) "
    "SELECT run_id FROM finished"
)
# New runs and step checkpoints of one batch in one statement (the usual batch: a run
# created without waiting rides with its first checkpoint).
INSERT_RUNS_AND_STEPS = (
    f"WITH new_runs AS (INSERT INTO lockgate_runs ({RUN_COLUMNS}, owner, lease_until) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], "
    "$6::bytea[], $7::text[], $8::text[], $9::float8[], $10::float8[], $11::float8[], "
    "$12::text[], $13::text[], $14::text[], $15::float8[])) "
    f"INSERT INTO lockgate_steps (run_id, {STEP_COLUMNS}) SELECT * FROM unnest($16::text[], "
    f"{STEP_ARRAYS.format(*PARAMS[17:24])}) AS s {ON_STEP_CONFLICT}"
)
# Rows another node holds locked (claiming, finishing, renewing) are skipped, not waited
# for: whatever that node is doing with the run, it is not free for us.
CLAIM = (
    "UPDATE lockgate_runs SET owner = $1, lease_until = $2 WHERE run_id IN ("
    "SELECT run_id FROM lockgate_runs WHERE status = 'running' "
    "AND ($4 OR owner IS DISTINCT FROM $1) "
    "AND (owner = $1 OR owner IS NULL OR lease_until < $3) FOR UPDATE SKIP LOCKED) "
    f"RETURNING {RUN_COLUMNS}"
)
# SKIP LOCKED here too: a heartbeat never queues behind (or deadlocks with) another node
# finishing or claiming one of our runs.
RENEW = (
    "UPDATE lockgate_runs SET lease_until = $1 WHERE run_id IN (SELECT run_id FROM "
    "lockgate_runs WHERE owner = $2 AND status = 'running' FOR UPDATE SKIP LOCKED) "
    "RETURNING run_id"
)
# Oldest first by id (ids sort by creation). No index serves it: the scan is bounded by the
# table, which retention keeps bounded.
PURGE = (
    "DELETE FROM lockgate_runs WHERE run_id IN (SELECT run_id FROM lockgate_runs "
    "WHERE status <> 'running' AND updated_at < $1 ORDER BY run_id LIMIT $2 "
    "FOR UPDATE SKIP LOCKED) RETURNING run_id, idempotency_key"
)
PURGE_STEPS = "DELETE FROM lockgate_steps WHERE run_id = ANY($1::text[])"
PURGE_KEYS = "DELETE FROM lockgate_idempotency WHERE key = ANY($1::text[])"


class WriteOp(NamedTuple):
    """One queued write: rows of a statement (batched with its neighbours through
    ``executemany``) or a function of the connection; ``future`` is None when nobody waits."""

    future: asyncio.Future[Any] | None
    sql: str = ""
    args: Sequence[Any] = ()
    fn: Callable[[_Connection], Awaitable[Any]] | None = None


def as_columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists, for ``unnest`` (empty lists for no rows)."""
    return [list(column) for column in zip(*rows, strict=True)] or [[] for _ in range(width)]


async def apply_batch(connection: _Connection, batch: list[WriteOp]) -> list[Any]:
    """Run ``batch`` atomically: new runs and checkpoints as one statement, finishes as
    another, and the rest (claims, keyed creates, heartbeats) in their order; a batch that
    is one statement needs no BEGIN and COMMIT round trips."""
    writes = [op for op in batch if op.fn is None and op.sql in (INSERT_RUN, UPSERT_STEP)]
    finishes = [op for op in batch if op.fn is None and op.sql == FINISH]
    others = [
        op for op in batch if op.fn is not None or op.sql not in (INSERT_RUN, UPSERT_STEP, FINISH)
    ]
    if len(finishes) == len(batch) == 1:
        run_id, status, error, at, rows = finishes[0].args
        columns = as_columns([row[1:] for row in rows], 7)
        return [bool(await connection.fetchval(FINISH, status, error, at, run_id, *columns))]
    if len(writes) == len(batch):
        await _insert_runs_and_steps(connection, writes)
        return [None] * len(batch)
    finished: set[str] = set()
    results: dict[int, Any] = {}
    async with connection.transaction():
        if writes:
            await _insert_runs_and_steps(connection, writes)
        if finishes:
            finished = await _finish_many(connection, finishes)
        for op in others:
            if op.fn is not None:
                results[id(op)] = await op.fn(connection)
            else:
                await connection.execute(op.sql, *op.args)
    claimed: set[str] = set()
    outcomes: list[Any] = []
    for op in batch:
        if op.fn is None and op.sql == FINISH:
            # Only the first finish of a run in the batch can have finished it.
            run_id = op.args[0]
            outcomes.append(run_id in finished and run_id not in claimed)
            claimed.add(run_id)
        else:
            outcomes.append(results.get(id(op)))
    return outcomes


async def _insert_runs_and_steps(connection: _Connection, ops: list[WriteOp]) -> None:
    runs = [op.args for op in ops if op.sql == INSERT_RUN]
    # The latest record of a step wins (one statement may not upsert a row twice).
    steps = {(op.args[0], op.args[1]): op.args for op in ops if op.sql == UPSERT_STEP}
    if not steps:
        await connection.executemany(INSERT_RUN, runs)
    elif not runs:
        await connection.executemany(UPSERT_STEP, list(steps.values()))
    else:
        await connection.execute(
            INSERT_RUNS_AND_STEPS, *as_columns(runs, 15), *as_columns(list(steps.values()), 8)
        )


async def _finish_many(connection: _Connection, ops: list[WriteOp]) -> set[str]:
    """Finish the runs of ``ops`` in one statement (the first finish of a run counts);
    the ids of the runs it finished."""
    first: dict[str, Sequence[Any]] = {}
    for op in ops:
        first.setdefault(op.args[0], op.args)
    runs = [(run_id, status, error, at) for run_id, status, error, at, _ in first.values()]
    steps = [row for *_, rows in first.values() for row in rows]
    rows = await connection.fetch(FINISH_MANY, *as_columns(runs, 4), *as_columns(steps, 8))
    return {row[0] for row in rows}
