"""``InMemoryWorkQueue``: the work queue in a dict, for tests and throwaway gateways.

Behaves like the SQL queues (leases, ordering, checks, dead and re-drive) but keeps
nothing across a restart. Its family's memory store adds the rows and decodes them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.work_queue.table import check_keys

__all__ = ["DEAD", "InMemoryWorkQueue", "QueueRow"]

T = TypeVar("T")
DEAD = "dead"


@dataclass(slots=True)
class QueueRow:
    """One item's columns, as the SQL queues keep them; ``order`` breaks ties and ``item``
    is what the family decodes the rest from."""

    key: str
    group: str
    order: tuple[str, ...]
    status: str
    created_at: float
    next_attempt_at: float
    item: Any
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: float | None = None
    error: str | None = None
    finished_at: float | None = None


class InMemoryWorkQueue(Generic[T]):
    """A work queue of ``QueueRow``s.

    Args:
        decode: The item a row holds now.
        waiting: The family's status of an item not yet done.
        done: The family's status of one that succeeded.
        what: What its ids are called in errors.
        late_success_revives_dead: As ``QueueTable``'s.
        purged: Called with the rows a purge deleted (a family's cleanup).
    """

    def __init__(
        self,
        decode: Callable[[QueueRow], T],
        *,
        waiting: str,
        done: str,
        what: str,
        late_success_revives_dead: bool = False,
        purged: Callable[[list[QueueRow]], None] | None = None,
    ) -> None:
        self.rows: dict[str, QueueRow] = {}
        # The rows not yet done, by key: what claims look through (done rows stay in ``rows``
        # until purged, and a busy queue holds many more of them than waiting ones).
        self.waiting: dict[str, QueueRow] = {}
        self._decode = decode
        self._waiting, self._done, self._what = waiting, done, what
        self._revives = late_success_revives_dead
        self._purged = purged

    def add(self, row: QueueRow) -> QueueRow:
        """Keep ``row`` unless one with its key is kept already (as ``ON CONFLICT DO
        NOTHING``); returns the row kept."""
        kept = self.rows.setdefault(row.key, row)
        if kept is row and row.status == self._waiting:
            self.waiting[row.key] = row
        return kept

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
        skipped = frozenset(skip_groups)
        # The ``limit`` first due without sorting the rest: a burst leaves many waiting.
        due = heapq.nsmallest(
            limit,
            (
                (row.next_attempt_at, row.order, row)
                for row in self.waiting.values()
                if row.next_attempt_at <= now and row.group not in skipped
            ),
        )
        until = now + lease_seconds
        for _, _, row in due:
            row.attempts += 1
            row.lease_owner, row.lease_until, row.next_attempt_at = owner, until, until
        return [self._decode(row) for _, _, row in due]

    async def release(self, owner: str, now: float) -> int:
        held = [
            row
            for row in self.waiting.values()
            if row.lease_owner == owner and row.lease_until is not None and row.lease_until > now
        ]
        for row in held:
            row.next_attempt_at = now
            row.lease_owner = row.lease_until = None
        return len(held)

    async def complete(self, key: str, now: float) -> None:
        row = self.rows.get(key)
        if row is None or row.status == self._done:
            return
        if row.status == DEAD and not self._revives:
            return
        row.status, row.finished_at = self._done, now
        row.lease_owner = row.lease_until = None
        self.waiting.pop(key, None)

    async def fail(
        self,
        key: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        row = self.rows.get(key)
        if row is None or row.status != self._waiting:
            return  # finished meanwhile (by a node whose claim outlived ours)
        if error is not None:
            row.error = error
        row.lease_owner = row.lease_until = None
        if not counted:
            row.attempts = max(row.attempts - 1, 0)
        if retry_at is None:
            row.status, row.finished_at = DEAD, now
            del self.waiting[key]
        else:
            row.next_attempt_at = retry_at

    async def get(self, key: str) -> T | None:
        row = self.rows.get(key)
        return None if row is None else self._decode(row)

    async def list_items(
        self, status: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[T]:
        check_limit(limit)
        rows = sorted(
            (
                row
                for row in self.rows.values()
                if (status is None or row.status == status)
                and (group is None or row.group == group)
            ),
            key=lambda row: (row.created_at, row.order),
        )[:limit]
        return [self._decode(row) for row in rows]

    async def redrive(
        self, now: float, keys: Sequence[str] | None = None, group: str | None = None
    ) -> list[str]:
        ids = check_keys(keys, self._what)
        candidates = self.rows.values() if ids is None else (self.rows.get(i) for i in ids)
        dead = sorted(
            (
                row
                for row in candidates
                if row is not None and row.status == DEAD and (group is None or row.group == group)
            ),
            key=lambda row: (row.created_at, row.order),
        )
        for row in dead:
            row.status, row.attempts, row.next_attempt_at = self._waiting, 0, now
            row.error = row.finished_at = None
            self.waiting[row.key] = row
        return [row.key for row in dead]

    async def purge(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        finished = sorted(
            (row.finished_at, row.order, row)
            for row in self.rows.values()
            if row.status == self._done and row.finished_at is not None and row.finished_at < before
        )[:limit]
        for _, _, row in finished:
            del self.rows[row.key]
        if self._purged is not None and finished:
            self._purged([row for _, _, row in finished])
        return len(finished)
