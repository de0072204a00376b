"""``SQLiteRunStore``: the embedded run store, one SQLite file.

WAL with ``synchronous=FULL`` (a committed checkpoint survives power loss), and group commit
(``SQLiteGroupCommit``): everything queued while the last commit was syncing is committed in
one transaction, so concurrent runs share fsyncs. Reads use their own connection (WAL
readers never block the writer).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

from lockgate import json_codec
from lockgate.errors import RunStoreError
from lockgate.gateways.stores.runs.ports import StepWrite
from lockgate.gateways.stores.runs.schema import (
    RUN_COLUMNS,
    SQLITE_MIGRATIONS,
    STEP_COLUMNS,
    list_query,
    step_row,
)
from lockgate.gateways.stores.runs.sqlite_group_commit import SQLiteGroupCommit
from lockgate.gateways.stores.sqlite_base import migrate, use_wal
from lockgate.models.run import RunPage, RunRecord, RunStatus, StepRecord, StepStatus

__all__ = ["SQLiteRunStore"]

T = TypeVar("T")
_Write = Callable[[sqlite3.Connection], Any]
_INSERT_RUN = (
    "INSERT INTO lockgate_runs (run_id, workflow_id, status, parameters, resources, context, "
    "idempotency_key, request_hash, created_at, updated_at, deadline, error, principal, "
    "owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        principal=row[12],
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
        self._commits: SQLiteGroupCommit | None = None
        self._reader: sqlite3.Connection | None = None
        self._reads: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"SQLiteRunStore({str(self.path)!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        if self._commits is not None:
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
        self._commits = SQLiteGroupCommit(writer, asyncio.get_running_loop())

    async def close(self) -> None:
        commits, self._commits = self._commits, None
        if commits is None:
            return
        await commits.close()
        reader, self._reader = self._reader, None
        reads, self._reads = self._reads, None
        if reader is not None and reads is not None:
            await asyncio.get_running_loop().run_in_executor(reads, reader.close)
        if reads is not None:
            reads.shutdown(wait=False)

    def _connect(self, *, migrate: bool) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 10000")
        use_wal(connection)
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        if migrate:
            self._migrate(connection)
        return connection

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            migrate(
                connection,
                versions_table="lockgate_schema",
                migrations=SQLITE_MIGRATIONS,
                error=RunStoreError,
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, wait: bool = True, heavy: bool = False
    ) -> T:
        if self._commits is None:
            raise RunStoreError("the run store is not open")
        return await self._commits.write(fn, wait=wait, heavy=heavy)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        reader, reads = self._reader, self._reads
        if reader is None or reads is None:
            raise RunStoreError("the run store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(reads, fn, reader)
        except sqlite3.Error as exc:
            raise RunStoreError(f"run store read failed: {exc}") from exc

    # -- IRunStore -----------------------------------------------------------------------------

    async def ping(self) -> None:
        # Reads the schema table, so a file that vanished or went unreadable is noticed.
        def select(connection: sqlite3.Connection) -> None:
            connection.execute("SELECT 1 FROM lockgate_schema LIMIT 1").fetchall()

        await self._read(select)

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
            run.principal,
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
        principal: str | None = None,
    ) -> RunPage:
        query, arguments = list_query(
            RUN_COLUMNS,
            workflow_id=workflow_id,
            status=status,
            cursor=cursor,
            limit=limit,
            placeholder=lambda _: "?",
            principal=principal,
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
