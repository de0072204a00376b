"""``PostgresWorkQueue``: the work queue over one family's table in PostgreSQL, on its
store's ``SchemaPool``, shared by every gateway node.

Nodes claim with ``FOR UPDATE SKIP LOCKED`` and leases, so two nodes never hold the same
item; a node that dies lets its leases lapse and another takes over. Each call is one
statement (a purge with a cleanup: one transaction).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Generic, TypeVar

from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.postgres_base import DRIVER_ERRORS, SchemaPool
from lockgate.gateways.stores.work_queue.table import QueueTable, check_keys

__all__ = ["PostgresWorkQueue"]

T = TypeVar("T")


class PostgresWorkQueue(Generic[T]):
    """The work queue over ``table`` in ``pool``'s schema (opened and closed by its store).

    Args:
        pool: The family store's pool.
        table: The family's table.
    """

    def __init__(self, pool: SchemaPool, table: QueueTable[T]) -> None:
        self._pool, self._table = pool, table
        t = table
        s = f'"{pool.schema}".'
        name = f"{s}{t.table}"
        joins = t.joins.format(s=s)
        waiting, done = f"'{t.waiting}'", f"'{t.done}'"
        # Rows another node is claiming (or finishing) are skipped, not waited for. A row
        # another node claimed since our snapshot is re-checked once locked: its
        # next_attempt_at has moved to its lease's end, so it is no longer due. The claim
        # order is kept in due_at; the joins read the updated rows (RETURNING d.*).
        self._claim = (
            f"WITH due AS (SELECT {t.key} AS due_key, d.next_attempt_at AS due_at "  # noqa: S608
            f"FROM {name} d WHERE d.status = {waiting} AND d.next_attempt_at <= $1 "
            f"AND NOT ({t.group} = ANY($5::text[])) "
            f"ORDER BY d.next_attempt_at, {t.order} LIMIT $2 FOR UPDATE SKIP LOCKED), "
            f"claimed AS (UPDATE {name} d SET attempts = d.attempts + 1, lease_owner = $3, "
            f"lease_until = $4, next_attempt_at = $4 FROM due WHERE {t.key} = due.due_key "
            "RETURNING d.*, due.due_at) "
            f"SELECT {t.columns} FROM claimed d {joins} ORDER BY d.due_at, {t.order}"
        )
        self._release = (
            f"UPDATE {name} d SET next_attempt_at = $2, lease_owner = NULL, "  # noqa: S608
            f"lease_until = NULL WHERE d.status = {waiting} AND d.next_attempt_at > $2 "
            "AND d.lease_owner = $1 AND d.lease_until > $2"
        )
        finishable = (
            f"d.status <> {done}" if t.late_success_revives_dead else f"d.status = {waiting}"
        )
        self._complete = (
            f"UPDATE {name} d SET status = {done}, finished_at = $2, lease_owner = NULL, "  # noqa: S608
            f"lease_until = NULL WHERE {t.key} = $1 AND {finishable}"
        )
        # Only a waiting item can fail: one finished meanwhile (by a node whose claim
        # outlived ours) stays as it is. A None retry_at makes it dead.
        self._fail = (
            f"UPDATE {name} d SET error = coalesce($2, d.error), "  # noqa: S608
            "lease_owner = NULL, lease_until = NULL, "
            "attempts = CASE WHEN $5 THEN d.attempts ELSE greatest(d.attempts - 1, 0) END, "
            f"status = CASE WHEN $3::float8 IS NULL THEN 'dead' ELSE {waiting} END, "
            "next_attempt_at = coalesce($3::float8, d.next_attempt_at), "
            "finished_at = CASE WHEN $3::float8 IS NULL THEN $4::float8 END "
            f"WHERE {t.key} = $1 AND d.status = {waiting}"
        )
        self._get = f"SELECT {t.columns} FROM {name} d {joins} WHERE {t.key} = $1"  # noqa: S608
        self._list = (
            f"SELECT {t.columns} FROM {name} d {joins} "  # noqa: S608
            f"WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR {t.group} = $2) "
            f"ORDER BY {t.created}, {t.order} LIMIT $3"
        )
        self._redrive = (
            f"WITH requeued AS (UPDATE {name} d SET status = {waiting}, attempts = 0, "  # noqa: S608
            "error = NULL, finished_at = NULL, lease_owner = NULL, lease_until = NULL, "
            "next_attempt_at = $1 WHERE d.status = 'dead' "
            f"AND ($2::text IS NULL OR {t.group} = $2) "
            f"AND ($3::text[] IS NULL OR {t.key} = ANY($3)) RETURNING d.*) "
            f"SELECT {t.key} FROM requeued d {joins} ORDER BY {t.created}, {t.order}"
        )
        cleanup = "NULL" if t.cleanup_column is None else f"d.{t.cleanup_column}"
        self._purge = (
            f"DELETE FROM {name} d WHERE {t.key} IN (SELECT {t.key} FROM {name} d "  # noqa: S608
            f"WHERE d.status = {done} AND d.finished_at < $1 "
            f"ORDER BY d.finished_at, {t.order} LIMIT $2 FOR UPDATE SKIP LOCKED) "
            f"RETURNING {cleanup}"
        )
        self._cleanup = None if t.postgres_cleanup is None else t.postgres_cleanup.format(s=s)

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
        rows = await self._pool.fetch(
            f"cannot claim from {self._table.table}",
            self._claim,
            now,
            limit,
            owner,
            now + lease_seconds,
            sorted(skip_groups),
        )
        return [self._table.decode(row) for row in rows]

    async def release(self, owner: str, now: float) -> int:
        status = await self._pool.execute(
            f"cannot release the leases of {owner}", self._release, owner, now
        )
        return int(status.split()[-1])

    async def complete(self, key: str, now: float) -> None:
        await self._pool.execute(f"cannot record the success of {key}", self._complete, key, now)

    async def fail(
        self,
        key: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        action = f"cannot record the failure of {key}"
        await self._pool.execute(action, self._fail, key, error, retry_at, now, bool(counted))

    async def get(self, key: str) -> T | None:
        row = await self._pool.fetchrow(f"cannot read {key}", self._get, key)
        return None if row is None else self._table.decode(row)

    async def list_items(
        self, status: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[T]:
        check_limit(limit)
        rows = await self._pool.fetch(
            f"cannot list {self._table.table}", self._list, status, group, limit
        )
        return [self._table.decode(row) for row in rows]

    async def redrive(
        self, now: float, keys: Sequence[str] | None = None, group: str | None = None
    ) -> list[str]:
        ids = check_keys(keys, self._table.ids)
        rows = await self._pool.fetch(
            f"cannot re-drive {self._table.table}", self._redrive, now, group, ids
        )
        return [row[0] for row in rows]

    async def purge(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        action = f"cannot purge {self._table.table}"
        if self._cleanup is None:
            return len(await self._pool.fetch(action, self._purge, before, limit))
        try:
            async with self._pool.ready().acquire() as connection, connection.transaction():
                rows = await connection.fetch(self._purge, before, limit)
                values = sorted({row[0] for row in rows})
                if values:  # a second statement: within the first, the rows still show
                    await connection.execute(self._cleanup, values)
        except DRIVER_ERRORS as exc:
            raise self._pool.fail(action, exc) from exc
        return len(rows)
