"""``SQLiteWorkQueue``: the work queue over one family's table in a SQLite file, on its
store's ``SQLiteWorker`` (one thread, one ``BEGIN IMMEDIATE`` transaction per call: SQLite
has one writer at a time, so a claim's read and its update never interleave with another
store's claim on the same file, and no item is claimed twice)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from typing import Generic, TypeVar

from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.sqlite_base import SQLiteWorker
from lockgate.gateways.stores.work_queue.table import QueueTable, check_keys

__all__ = ["SQLiteWorkQueue"]

T = TypeVar("T")


class SQLiteWorkQueue(Generic[T]):
    """The work queue over ``table``, run on ``worker`` (opened and closed by its store).

    Args:
        worker: The family store's SQLite thread and connection.
        table: The family's table.
    """

    def __init__(self, worker: SQLiteWorker, table: QueueTable[T]) -> None:
        self._worker, self._table = worker, table
        t = table
        source = f"{t.table} AS d {t.joins.format(s='')}"
        waiting, done = f"'{t.waiting}'", f"'{t.done}'"
        # All constant text: the fragments are the family's, never a caller's.
        self._due = (
            f"SELECT {t.key} FROM {t.table} AS d WHERE d.status = {waiting} "  # noqa: S608
            f"AND d.next_attempt_at <= ? AND {t.group} NOT IN (SELECT value FROM json_each(?)) "
            f"ORDER BY d.next_attempt_at, {t.order} LIMIT ?"
        )
        self._lease = (
            f"UPDATE {t.table} AS d SET attempts = attempts + 1, lease_owner = ?, "  # noqa: S608
            f"lease_until = ?, next_attempt_at = ? WHERE {t.key} = ?"
        )
        self._get = f"SELECT {t.columns} FROM {source} WHERE {t.key} = ?"  # noqa: S608
        self._get_many = (
            f"SELECT {t.key}, {t.columns} FROM {source} "  # noqa: S608
            f"WHERE {t.key} IN (SELECT value FROM json_each(?))"
        )
        # A held row's next_attempt_at is its lease's end: the condition on it lets the due
        # index narrow the search to rows due later (held, or waiting for a retry).
        self._release = (
            f"UPDATE {t.table} AS d SET next_attempt_at = ?2, lease_owner = NULL, "  # noqa: S608
            f"lease_until = NULL WHERE status = {waiting} AND next_attempt_at > ?2 "
            "AND lease_owner = ?1 AND lease_until > ?2"
        )
        finishable = f"status <> {done}" if t.late_success_revives_dead else f"status = {waiting}"
        self._complete = (
            f"UPDATE {t.table} AS d SET status = {done}, finished_at = ?, "  # noqa: S608
            f"lease_owner = NULL, lease_until = NULL WHERE {t.key} = ? AND {finishable}"
        )
        # Only a waiting item can fail: one finished meanwhile (by a node whose claim
        # outlived ours) stays as it is. A None retry_at makes it dead.
        self._fail = (
            f"UPDATE {t.table} AS d SET error = coalesce(?2, error), "  # noqa: S608
            "lease_owner = NULL, lease_until = NULL, "
            "attempts = CASE WHEN ?5 THEN attempts ELSE max(attempts - 1, 0) END, "
            f"status = CASE WHEN ?3 IS NULL THEN 'dead' ELSE {waiting} END, "
            "next_attempt_at = coalesce(?3, next_attempt_at), "
            "finished_at = CASE WHEN ?3 IS NULL THEN ?4 END "
            f"WHERE {t.key} = ?1 AND status = {waiting}"
        )
        self._list = (
            f"SELECT {t.columns} FROM {source} "  # noqa: S608
            f"WHERE (?1 IS NULL OR d.status = ?1) AND (?2 IS NULL OR {t.group} = ?2) "
            f"ORDER BY {t.created}, {t.order} LIMIT ?3"
        )
        dead = (
            f"SELECT {t.key} FROM {source} WHERE d.status = 'dead' "  # noqa: S608
            f"AND (?1 IS NULL OR {t.group} = ?1)"
        )
        self._dead = f"{dead} ORDER BY {t.created}, {t.order}"
        self._dead_of = (
            f"{dead} AND {t.key} IN (SELECT value FROM json_each(?2)) "  # noqa: S608
            f"ORDER BY {t.created}, {t.order}"
        )
        self._redrive = (
            f"UPDATE {t.table} AS d SET status = {waiting}, attempts = 0, error = NULL, "  # noqa: S608
            "finished_at = NULL, lease_owner = NULL, lease_until = NULL, next_attempt_at = ? "
            f"WHERE {t.key} = ? AND status = 'dead'"
        )
        cleanup = "NULL" if t.cleanup_column is None else f"d.{t.cleanup_column}"
        self._finished = (
            f"SELECT {t.key}, {cleanup} FROM {t.table} AS d "  # noqa: S608
            f"WHERE d.status = {done} AND d.finished_at < ? "
            f"ORDER BY d.finished_at, {t.order} LIMIT ?"
        )
        self._purge = f"DELETE FROM {t.table} AS d WHERE {t.key} = ?"  # noqa: S608

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_groups: Collection[str] = (),
    ) -> list[T]:
        check_claim(lease_seconds, limit)
        until = now + lease_seconds
        skipped = json.dumps(sorted(skip_groups))

        def claim(connection: sqlite3.Connection) -> list[T]:
            keys = [row[0] for row in connection.execute(self._due, (now, skipped, limit))]
            if not keys:
                return []
            connection.executemany(self._lease, [(owner, until, until, key) for key in keys])
            # As stored now (one more attempt, due again when the lease lapses), read back
            # in one statement, in the order claimed.
            rows = {
                row[0]: row[1:] for row in connection.execute(self._get_many, (json.dumps(keys),))
            }
            return [self._table.decode(rows[key]) for key in keys]

        return await self._worker.run("claim", claim)

    async def release(self, owner: str, now: float) -> int:
        return await self._worker.run(
            f"release of {owner}'s leases",
            lambda c: c.execute(self._release, (owner, now)).rowcount,
        )

    async def complete(self, key: str, now: float) -> None:
        await self._worker.run(
            f"completion of {key}", lambda c: c.execute(self._complete, (now, key))
        )

    async def fail(
        self,
        key: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        args = (key, error, retry_at, now, bool(counted))
        await self._worker.run(f"failure of {key}", lambda c: c.execute(self._fail, args))

    async def get(self, key: str) -> T | None:
        def read(connection: sqlite3.Connection) -> T | None:
            row = connection.execute(self._get, (key,)).fetchone()
            return None if row is None else self._table.decode(row)

        return await self._worker.run(f"read of {key}", read)

    async def list_items(
        self, status: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[T]:
        check_limit(limit)

        def read(connection: sqlite3.Connection) -> list[T]:
            rows = connection.execute(self._list, (status, group, limit))
            return [self._table.decode(row) for row in rows]

        return await self._worker.run("listing", read)

    async def redrive(
        self, now: float, keys: Sequence[str] | None = None, group: str | None = None
    ) -> list[str]:
        ids = check_keys(keys, self._table.ids)

        def requeue(connection: sqlite3.Connection) -> list[str]:
            if ids is None:
                dead = connection.execute(self._dead, (group,))
            else:
                dead = connection.execute(self._dead_of, (group, json.dumps(ids)))
            chosen = [row[0] for row in dead]
            connection.executemany(self._redrive, [(now, key) for key in chosen])
            return chosen

        return await self._worker.run("redrive", requeue)

    async def purge(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        cleanup = self._table.sqlite_cleanup

        def purge(connection: sqlite3.Connection) -> int:
            rows = connection.execute(self._finished, (before, limit)).fetchall()
            connection.executemany(self._purge, [(row[0],) for row in rows])
            if cleanup is not None:
                connection.executemany(cleanup, [(value,) for value in {row[1] for row in rows}])
            return len(rows)

        return await self._worker.run("purge", purge)
