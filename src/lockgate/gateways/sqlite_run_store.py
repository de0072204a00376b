"""``SQLiteRunStore``: the embedded run store, one SQLite file.

WAL with ``synchronous=FULL`` (a committed checkpoint survives power loss), and group commit:
one writer thread owns the write connection and commits everything queued while its last
commit was being synced in one transaction, so concurrent runs share fsyncs while the event
loop keeps running. Reads use their own connection (WAL readers never block the writer).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from lockgate import json_codec
from lockgate.errors import RunStoreError
from lockgate.gateways.interfaces import StepWrite
from lockgate.gateways.run_store_schema import (
    RUN_COLUMNS,
    SQLITE_MIGRATIONS,
    STEP_COLUMNS,
    list_query,
    step_row,
)
from lockgate.models.run import RunPage, RunRecord, RunStatus, StepRecord, StepStatus

__all__ = ["SQLiteRunStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_INLINE_BATCH = 2
_Write = Callable[[sqlite3.Connection], Any]
_INSERT_RUN = (
    "INSERT INTO lockgate_runs (run_id, workflow_id, status, parameters, resources, context, "
    "idempotency_key, request_hash, created_at, updated_at, deadline, error, owner, "
    "lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Oldest first by id (ids sort by creation). No index serves it: the scan is bounded by the
# table, which retention keeps bounded; it runs on the writer thread, off the event loop.
_PURGE_SELECT = (
    "SELECT run_id, idempotency_key FROM lockgate_runs WHERE status != 'running' "
    "AND updated_at < ? ORDER BY run_id LIMIT ?"
)
_UPSERT_STEP = (
    f"INSERT INTO lockgate_steps (run_id, {STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, name) DO UPDATE SET status = excluded.status, "
    "output = excluded.output, error = excluded.error, attempts = excluded.attempts, "
    "started_at = excluded.started_at, finished_at = excluded.finished_at"
)


class _Op:
    __slots__ = ("fn", "future", "heavy")

    def __init__(self, fn: _Write, future: asyncio.Future[Any] | None, heavy: bool = False) -> None:
        self.fn = fn
        self.future = future
        self.heavy = heavy


def _run_record(row: Sequence[Any], steps: dict[str, StepRecord]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        workflow_id=row[1],
        status=RunStatus(row[2]),
        parameters=json_codec.loads(row[3]),
        resources=json_codec.loads(row[4]),
        context=json_codec.loads(row[5]),
        idempotency_key=row[6],
        request_hash=row[7],
        created_at=row[8],
        updated_at=row[9],
        deadline=row[10],
        error=row[11],
        steps=steps,
    )


def _steps(connection: sqlite3.Connection, run_id: str) -> dict[str, StepRecord]:
    rows = connection.execute(
        f"SELECT {STEP_COLUMNS} FROM lockgate_steps WHERE run_id = ?", (run_id,)
    )
    return {
        row[0]: StepRecord(
            name=row[0],
            status=StepStatus(row[1]),
            output=json_codec.loads(row[2]) if row[2] is not None else None,
            error=row[3],
            attempts=row[4],
            started_at=row[5],
            finished_at=row[6],
        )
        for row in rows
    }


def _load_run(connection: sqlite3.Connection, run_id: str) -> RunRecord | None:
    row = connection.execute(
        f"SELECT {RUN_COLUMNS} FROM lockgate_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    return _run_record(row, _steps(connection, run_id)) if row else None


class SQLiteRunStore:
    """Runs and checkpoints in one SQLite file.

    Args:
        path: The database file (its folder is created).
        synchronous: ``FULL`` survives power loss; ``NORMAL`` only a process crash (a power
            loss may take the last commits) and is several times faster.
    """

    def __init__(self, path: Path, *, synchronous: Literal["FULL", "NORMAL"] = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[list[_Op] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._pending: list[_Op] = []
        self._scheduled = False
        self._deferred = False
        self._in_thread = 0
        self._reads: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"SQLiteRunStore({str(self.path)!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        writer = None
        try:
            writer = await asyncio.to_thread(self._connect, migrate=True)
            self._reader = await asyncio.to_thread(self._connect, migrate=False)
        except (sqlite3.Error, OSError) as exc:  # OSError: its folder cannot be made
            if writer is not None:
                writer.close()
            raise RunStoreError(f"cannot open the run store {self.path}: {exc}") from exc
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lockgate-sqlite-read")
        self._writer_connection = writer
        self._writer = threading.Thread(
            target=self._write_loop,
            args=(writer, asyncio.get_running_loop()),
            name="lockgate-sqlite-writer",
            daemon=True,
        )
        self._writer.start()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        # Writes not yet handed over (a deferred run creation, a flush not yet run) go to
        # the thread ahead of the stop sign: close() loses nothing.
        batch, self._pending = self._pending, []
        if batch:
            self._in_thread += 1
            self._queue.put(batch)
        self._queue.put(None)
        await asyncio.to_thread(writer.join)
        reader, self._reader = self._reader, None
        reads, self._reads = self._reads, None
        if reader is not None and reads is not None:
            await asyncio.get_running_loop().run_in_executor(reads, reader.close)
        if reads is not None:
            reads.shutdown(wait=False)

    def _connect(self, *, migrate: bool) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        connection.execute("PRAGMA busy_timeout = 10000")
        if migrate:
            self._migrate(connection)
        return connection

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS lockgate_schema (version INTEGER NOT NULL)"
            )
            row = connection.execute("SELECT max(version) FROM lockgate_schema").fetchone()
            current = row[0] or 0
            if current > len(SQLITE_MIGRATIONS):
                raise RunStoreError(
                    f"the run store's schema is version {current}, newer than this Lockgate "
                    f"knows ({len(SQLITE_MIGRATIONS)}); upgrade Lockgate"
                )
            for version, script in enumerate(SQLITE_MIGRATIONS, start=1):
                if version > current:
                    for statement in script:
                        connection.execute(statement)
                    connection.execute("INSERT INTO lockgate_schema VALUES (?)", (version,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    # -- the writer ----------------------------------------------------------------------------

    def _write_loop(self, connection: sqlite3.Connection, loop: asyncio.AbstractEventLoop) -> None:
        """The writer thread: commit each batch the loop hands over (several at once if they
        queued up meanwhile) and settle their futures back on the loop."""
        while True:
            first = self._queue.get()
            if first is None:
                break
            batches = [first]
            stopping = False
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batches.append(more)
            batch = [op for ops in batches for op in ops]
            outcomes = list(zip(batch, self._apply(connection, batch), strict=True))
            try:
                loop.call_soon_threadsafe(self._settled, len(batches), outcomes)
            except RuntimeError:
                break  # the loop has closed: nobody is waiting any more
            if stopping:
                break
        connection.close()

    def _settled(self, batches: int, outcomes: list[tuple[_Op, tuple[bool, Any]]]) -> None:
        self._in_thread -= batches
        _settle(outcomes)

    @staticmethod
    def _apply(connection: sqlite3.Connection, batch: list[_Op]) -> list[tuple[bool, Any]]:
        """Run the batch in one transaction; if any write fails, run each in its own, so
        one bad write fails alone."""
        try:
            connection.execute("BEGIN IMMEDIATE")
            results = [(True, op.fn(connection)) for op in batch]
            connection.execute("COMMIT")
            return results
        except Exception:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if len(batch) == 1:
                return [SQLiteRunStore._apply_one(connection, batch[0])]
        return [SQLiteRunStore._apply_one(connection, op) for op in batch]

    @staticmethod
    def _apply_one(connection: sqlite3.Connection, op: _Op) -> tuple[bool, Any]:
        try:
            connection.execute("BEGIN IMMEDIATE")
            result = op.fn(connection)
            connection.execute("COMMIT")
            return True, result
        except Exception as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return False, exc

    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, wait: bool = True, heavy: bool = False
    ) -> T:
        """Queue ``fn`` for the next commit; ``heavy`` ones (claims, purges: they read many
        rows) are always committed on the writer thread, never on the event loop."""
        if self._writer is None:
            raise RunStoreError("the run store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] | None = loop.create_future() if wait else None
        self._pending.append(_Op(fn, future, heavy))
        if future is None:
            if not self._deferred:
                self._deferred = True
                loop.call_later(0.002, self._schedule)
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        if future is None:
            return None  # type: ignore[return-value]
        return await future

    def _schedule(self) -> None:
        self._deferred = False
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._writer is None:  # closed meanwhile: close() handed the batch over
            return
        batch, self._pending = self._pending, []
        if not batch:
            return
        if (
            self._in_thread == 0
            and len(batch) <= _INLINE_BATCH
            and not any(op.heavy for op in batch)
        ):
            # Nothing else is waiting: the loop has nothing to do during this sync, so commit
            # here and skip two thread hand-offs. Under load, the thread commits while the
            # loop keeps running steps.
            _settle(list(zip(batch, self._apply(self._writer_connection, batch), strict=True)))
        else:
            self._in_thread += 1
            self._queue.put(batch)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        reader, reads = self._reader, self._reads
        if reader is None or reads is None:
            raise RunStoreError("the run store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(reads, fn, reader)
        except sqlite3.Error as exc:
            raise RunStoreError(f"run store read failed: {exc}") from exc

    # -- IRunStore -----------------------------------------------------------------------------

    async def create_run(
        self, run: RunRecord, *, owner: str, lease_seconds: float, wait: bool = True
    ) -> RunRecord:
        if not wait and run.idempotency_key is not None:
            raise ValueError("a run with an idempotency key must be created with wait=True")
        row = (
            run.run_id,
            run.workflow_id,
            run.status.value,
            json_codec.dumps(run.parameters),
            json_codec.dumps(run.resources),
            json_codec.dumps(run.context),
            run.idempotency_key,
            run.request_hash,
            run.created_at,
            run.updated_at,
            run.deadline,
            run.error,
            owner,
            run.created_at + lease_seconds,
        )

        def insert(connection: sqlite3.Connection) -> RunRecord:
            if run.idempotency_key is not None:
                claimed = connection.execute(
                    "INSERT INTO lockgate_idempotency (key, run_id) VALUES (?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (run.idempotency_key, run.run_id),
                )
                if claimed.rowcount != 1:
                    existing = connection.execute(
                        "SELECT run_id FROM lockgate_idempotency WHERE key = ?",
                        (run.idempotency_key,),
                    ).fetchone()
                    loaded = _load_run(connection, existing[0])
                    assert loaded is not None
                    return loaded
            connection.execute(_INSERT_RUN, row)
            return run

        if not wait:
            await self._write(insert, wait=False)
            return run
        return await self._write(insert)

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        row = step_row(run_id, step)
        await self._write(lambda connection: connection.execute(_UPSERT_STEP, row))

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        rows = [step_row(run_id, step) for step in steps]

        def finish(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE lockgate_runs SET status = ?, error = ?, updated_at = ?, owner = NULL "
                "WHERE run_id = ? AND status = 'running'",
                (status.value, error, at, run_id),
            )
            if cursor.rowcount != 1:
                return False
            connection.executemany(_UPSERT_STEP, rows)
            return True

        return await self._write(finish)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._read(lambda connection: _load_run(connection, run_id))

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        query, arguments = list_query(
            RUN_COLUMNS,
            workflow_id=workflow_id,
            status=status,
            cursor=cursor,
            limit=limit,
            placeholder=lambda _: "?",
        )

        def page(connection: sqlite3.Connection) -> RunPage:
            rows = connection.execute(query, arguments).fetchall()
            runs = tuple(_run_record(row, {}) for row in rows[:limit])
            return RunPage(runs, runs[-1].run_id if len(rows) > limit else None)

        return await self._read(page)

    async def claim_runs(
        self, owner: str, lease_seconds: float, now: float, *, own: bool = True
    ) -> list[RunRecord]:
        def claim(connection: sqlite3.Connection) -> list[RunRecord]:
            claimed = connection.execute(
                "UPDATE lockgate_runs SET owner = ?, lease_until = ? WHERE status = 'running' "
                "AND (? OR owner IS NOT ?) "
                "AND (owner = ? OR owner IS NULL OR lease_until < ?) RETURNING run_id",
                (owner, now + lease_seconds, own, owner, owner, now),
            ).fetchall()
            runs = [_load_run(connection, row[0]) for row in claimed]
            return sorted((run for run in runs if run is not None), key=lambda r: r.created_at)

        return await self._write(claim, heavy=True)

    async def renew_leases(self, owner: str, lease_seconds: float, now: float) -> list[str]:
        def renew(connection: sqlite3.Connection) -> list[str]:
            rows = connection.execute(
                "UPDATE lockgate_runs SET lease_until = ? WHERE owner = ? AND status = 'running' "
                "RETURNING run_id",
                (now + lease_seconds, owner),
            ).fetchall()
            return [row[0] for row in rows]

        return await self._write(renew)

    async def purge_runs(self, finished_before: float, limit: int = 1000) -> int:
        def purge(connection: sqlite3.Connection) -> int:
            rows = connection.execute(_PURGE_SELECT, (finished_before, limit)).fetchall()
            connection.executemany(
                "DELETE FROM lockgate_idempotency WHERE key = ?",
                [(key,) for _, key in rows if key is not None],
            )
            for table in ("lockgate_steps", "lockgate_runs"):
                connection.executemany(
                    f"DELETE FROM {table} WHERE run_id = ?", [(run_id,) for run_id, _ in rows]
                )
            return len(rows)

        return await self._write(purge, heavy=True)


def _settle(outcomes: list[tuple[_Op, tuple[bool, Any]]]) -> None:
    for op, (ok, value) in outcomes:
        future = op.future
        if future is None:
            if not ok:
                logger.error("run store write failed: %s", value)
            continue
        if future.done():
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, RunStoreError):
            future.set_exception(value)
        else:
            future.set_exception(RunStoreError(f"run store write failed: {value}"))
