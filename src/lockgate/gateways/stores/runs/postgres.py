"""``PostgresRunStore``: the run store that gateways on several nodes share.

Group commit, as in the SQLite store: one writer task owns one dedicated connection and
commits everything queued while its previous commit was in flight in one transaction, so
concurrent runs share WAL flushes (research/durable.md §9.3: ~57k steps/s at 512 workflows,
against ~3k with a commit per step). Reads use a pool and never wait behind a commit. Nodes
take over runs with ``FOR UPDATE SKIP LOCKED`` and leases, so no run is claimed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from lockgate import json_codec
from lockgate.errors import RunStoreError
from lockgate.gateways.stores.postgres_base import DRIVER_ERRORS, Redactor, checked_schema, migrate
from lockgate.gateways.stores.runs.ports import StepWrite
from lockgate.gateways.stores.runs.postgres_statements import (
    CLAIM,
    FINISH,
    INSERT_RUN,
    PURGE,
    PURGE_KEYS,
    PURGE_STEPS,
    RENEW,
    SELECT_STEPS,
    TAKE_KEY,
    UPSERT_STEP,
    WriteOp,
    apply_batch,
)
from lockgate.gateways.stores.runs.schema import (
    POSTGRES_MIGRATIONS,
    RUN_COLUMNS,
    list_query,
    step_row,
)
from lockgate.models.run import RunPage, RunRecord, RunStatus, StepRecord, StepStatus

__all__ = ["PostgresRunStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    _Connection: TypeAlias = asyncpg.Connection[asyncpg.Record]
    _AnyConnection: TypeAlias = _Connection | PoolConnectionProxy[asyncpg.Record]
_MIGRATION_LOCK = 0x4C6B6761  # with hashtext(schema): one advisory lock per schema
_DEFER_SECONDS = 0.002  # how long a create_run(wait=False) waits for a write to ride with


def _run_record(row: asyncpg.Record, steps: dict[str, StepRecord]) -> RunRecord:
    fields = dict(row.items())  # the columns are named after RunRecord's fields
    for name in ("parameters", "resources", "context"):
        fields[name] = json_codec.loads(fields[name])
    return RunRecord(**{**fields, "status": RunStatus(fields["status"]), "steps": steps})


class PostgresRunStore:
    """Runs and checkpoints in PostgreSQL tables, shared by any number of gateways.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST:PORT/DB``; errors and the repr show it
            without its password.
        schema: The schema holding the tables (created if missing), so deployments can
            share a database.
        min_size, max_size: Bounds of the read pool (the writer has its own connection).

    Raises:
        ValueError: ``schema`` is not a plain PostgreSQL identifier.
    """

    def __init__(
        self, dsn: str, *, schema: str = "lockgate", min_size: int = 1, max_size: int = 8
    ) -> None:
        self.schema = checked_schema(schema)
        self._dsn = dsn
        self._pool_size = (min_size, max_size)
        self._settings = {"search_path": f'"{schema}"'}
        self._redactor = Redactor(dsn, schema)
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._connection: _Connection | None = None
        self._writer: asyncio.Task[None] | None = None
        self._pending: list[WriteOp] = []
        self._wakeup = asyncio.Event()
        self._deferred: asyncio.TimerHandle | None = None
        self._closing = False

    def __repr__(self) -> str:
        return f"PostgresRunStore({self._redactor.dsn!r}, schema={self.schema!r})"

    def _error(self, action: str, exc: BaseException) -> RunStoreError:
        return RunStoreError(self._redactor.describe(action, exc))

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        connection: _Connection | None = None
        try:
            connection = await asyncpg.connect(self._dsn, server_settings=self._settings)
            await self._migrate(connection)
            min_size, max_size = self._pool_size
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=min_size, max_size=max_size, server_settings=self._settings
            )
        except BaseException as exc:
            if connection is not None:
                connection.terminate()
            if isinstance(exc, DRIVER_ERRORS):
                raise self._error("cannot open the run store", exc) from exc
            raise
        self._connection = connection
        self._closing = False
        self._wakeup = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name="lockgate-postgres-writer")

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._closing = True
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        self._wakeup.set()
        await writer  # it commits whatever is still queued before it returns
        connection, self._connection = self._connection, None
        pool, self._pool = self._pool, None
        try:
            if connection is not None:
                await connection.close()
            if pool is not None:
                await pool.close()
        except DRIVER_ERRORS as exc:
            logger.warning("closing the run store: %s", self._error("close failed", exc))

    async def _migrate(self, connection: _Connection) -> None:
        await migrate(
            connection,
            schema=self.schema,
            versions_table="lockgate_schema",
            migrations=POSTGRES_MIGRATIONS,
            lock_key=_MIGRATION_LOCK,
            error=RunStoreError,
        )

    # -- the writer ----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Commit everything queued, in one transaction; repeat with what queued meanwhile."""
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch, self._pending = self._pending, []
            self._settle(batch, await self._commit(batch))

    async def _commit(self, batch: list[WriteOp]) -> list[tuple[bool, Any]]:
        """Commit the batch; if a write fails, retry each in its own transaction so one bad
        write fails alone."""
        try:
            connection = self._connection
            if connection is None or connection.is_closed():
                connection = self._connection = await asyncpg.connect(
                    self._dsn, server_settings=self._settings
                )
        except DRIVER_ERRORS as exc:
            return [(False, exc)] * len(batch)
        try:
            return [(True, result) for result in await apply_batch(connection, batch)]
        except Exception as exc:
            # A lost connection may have lost the commit's answer rather than the commit:
            # retrying could apply a write twice, so the whole batch reports the failure.
            if connection.is_closed() or len(batch) == 1:
                return [(False, exc)] * len(batch)
        outcomes: list[tuple[bool, Any]] = []
        for op in batch:
            try:
                outcomes.append((True, (await apply_batch(connection, [op]))[0]))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes

    def _settle(self, batch: list[WriteOp], outcomes: list[tuple[bool, Any]]) -> None:
        for op, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                if op.future is not None and not op.future.done():
                    op.future.set_result(value)
                continue
            error = value
            if not isinstance(error, RunStoreError):
                error = self._error("run store write failed", value)
                error.__cause__ = value
            if op.future is None:
                logger.error("%s", error)  # nobody awaits a create_run(wait=False)
            elif not op.future.done():
                op.future.set_exception(error)

    def _enqueue(self, op: WriteOp) -> None:
        """Queue a write for the writer: at once if someone awaits it, else shortly."""
        if self._writer is None or self._writer.done() or self._closing:
            raise RunStoreError("the run store is not open", schema=self.schema)
        self._pending.append(op)
        if op.future is not None:
            self._wakeup.set()
        elif self._deferred is None:
            self._deferred = asyncio.get_running_loop().call_later(_DEFER_SECONDS, self._undefer)

    def _undefer(self) -> None:
        self._deferred = None
        self._wakeup.set()

    async def _write_rows(self, sql: str, args: Sequence[Any], *, wait: bool = True) -> None:
        future = asyncio.get_running_loop().create_future() if wait else None
        self._enqueue(WriteOp(future, sql, args))
        if future is not None:
            await future

    async def _write(self, fn: Callable[[_Connection], Awaitable[T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(WriteOp(future, fn=fn))
        return await future

    async def _read(self, fn: Callable[[PoolConnectionProxy[asyncpg.Record]], Awaitable[T]]) -> T:
        pool = self._pool
        if pool is None:
            raise RunStoreError("the run store is not open", schema=self.schema)
        try:
            async with pool.acquire() as connection:
                return await fn(connection)
        except DRIVER_ERRORS as exc:
            raise self._error("run store read failed", exc) from exc

    async def _steps(
        self, connection: _AnyConnection, run_ids: list[str]
    ) -> dict[str, dict[str, StepRecord]]:
        steps: dict[str, dict[str, StepRecord]] = {run_id: {} for run_id in run_ids}
        for row in await connection.fetch(SELECT_STEPS, run_ids):
            output = json_codec.loads(row[3]) if row[3] is not None else None
            steps[row[0]][row[1]] = StepRecord(row[1], StepStatus(row[2]), output, *row[4:8])
        return steps

    async def _load_run(self, connection: _AnyConnection, run_id: str) -> RunRecord | None:
        row = await connection.fetchrow(
            f"SELECT {RUN_COLUMNS} FROM lockgate_runs WHERE run_id = $1", run_id
        )
        if row is None:
            return None
        return _run_record(row, (await self._steps(connection, [run_id]))[run_id])

    # -- IRunStore -----------------------------------------------------------------------------

    async def ping(self) -> None:
        # Through the writer, not the read pool: checkpoints fail when the writer cannot
        # reach the database, whatever the pool's idle connections say.
        async def select(connection: _Connection) -> None:
            await connection.fetchval("SELECT 1")

        await self._write(select)

    async def create_run(
        self, run: RunRecord, *, owner: str, lease_seconds: float, wait: bool = True
    ) -> RunRecord:
        key = run.idempotency_key
        if not wait and key is not None:
            raise ValueError("a run with an idempotency key must be created with wait=True")
        json = [json_codec.dumps(value) for value in (run.parameters, run.resources, run.context)]
        values = (run.created_at, run.updated_at, run.deadline, run.error, run.principal)
        row = (run.run_id, run.workflow_id, run.status.value, *json, key, run.request_hash, *values)
        row += (owner, run.created_at + lease_seconds)
        if key is None:
            await self._write_rows(INSERT_RUN, row, wait=wait)
            return run

        async def insert(connection: _Connection) -> RunRecord:
            # A concurrent insert of the same key (another node) makes this one wait for
            # its commit, then do nothing: the key's run is then visible to the SELECT.
            if await connection.fetchval(TAKE_KEY, key, run.run_id) is None:
                earlier = await connection.fetchval(
                    "SELECT run_id FROM lockgate_idempotency WHERE key = $1", key
                )
                loaded = await self._load_run(connection, earlier)
                if loaded is None:
                    raise RunStoreError(f"idempotency key names a missing run {earlier}")
                return loaded
            await connection.execute(INSERT_RUN, *row)
            return run

        return await self._write(insert)

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        await self._write_rows(UPSERT_STEP, step_row(run_id, step))

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        latest = {step[0].name: step for step in steps}  # a row may be upserted once
        rows = [step_row(run_id, step) for step in latest.values()]
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._enqueue(WriteOp(future, FINISH, (run_id, status.value, error, at, rows)))
        return await future

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._read(lambda connection: self._load_run(connection, run_id))

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        principal: str | None = None,
    ) -> RunPage:
        query, arguments = list_query(
            RUN_COLUMNS,
            workflow_id=workflow_id,
            status=status,
            cursor=cursor,
            limit=limit,
            placeholder=lambda n: f"${n}",
            principal=principal,
        )
        rows = await self._read(lambda connection: connection.fetch(query, *arguments))
        runs = tuple(_run_record(row, {}) for row in rows[:limit])
        return RunPage(runs, runs[-1].run_id if len(rows) > limit else None)

    async def claim_runs(
        self, owner: str, lease_seconds: float, now: float, *, own: bool = True
    ) -> list[RunRecord]:
        async def claim(connection: _Connection) -> list[RunRecord]:
            rows = await connection.fetch(CLAIM, owner, now + lease_seconds, now, own)
            steps = await self._steps(connection, [row[0] for row in rows])
            runs = [_run_record(row, steps[row[0]]) for row in rows]
            return sorted(runs, key=lambda run: run.created_at)

        return await self._write(claim)

    async def renew_leases(self, owner: str, lease_seconds: float, now: float) -> list[str]:
        async def renew(connection: _Connection) -> list[str]:
            rows = await connection.fetch(RENEW, now + lease_seconds, owner)
            return [row[0] for row in rows]

        return await self._write(renew)

    async def purge_runs(self, finished_before: float, limit: int = 1000) -> int:
        async def purge(connection: _Connection) -> int:
            rows = await connection.fetch(PURGE, finished_before, limit)
            run_ids = [row[0] for row in rows]
            keys = [row[1] for row in rows if row[1] is not None]
            await connection.execute(PURGE_STEPS, run_ids)
            await connection.execute(PURGE_KEYS, keys)
            return len(rows)

        return await self._write(purge)
