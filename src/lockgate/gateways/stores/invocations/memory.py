"""``InMemoryAsyncInvocationStore``: ``Event`` invocations in a dict, for tests and
throwaway gateways.

Behaves like the durable stores (leases, ordering, checks, dead and redrive) but keeps
nothing across a restart.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lockgate.gateways.stores.arguments import check_claim, check_limit
from lockgate.gateways.stores.invocations.schema import check_request_ids, new_invocation_row
from lockgate.models.async_invocation import AsyncInvocation, AsyncInvocationStatus

__all__ = ["InMemoryAsyncInvocationStore"]

QUEUED, SUCCEEDED, DEAD = (
    AsyncInvocationStatus.QUEUED,
    AsyncInvocationStatus.SUCCEEDED,
    AsyncInvocationStatus.DEAD,
)


@dataclass(slots=True)
class _Row:
    """One invocation's columns, as the durable stores keep them."""

    request_id: str
    function: str
    payload: bytes
    qualifier: str | None
    status: AsyncInvocationStatus
    attempts: int
    created_at: float
    next_attempt_at: float
    lease_owner: str | None = None
    lease_until: float | None = None
    error: str | None = None
    finished_at: float | None = None

    def record(self) -> AsyncInvocation:
        return AsyncInvocation(
            request_id=self.request_id,
            function=self.function,
            payload=self.payload,
            qualifier=self.qualifier,
            status=self.status,
            attempts=self.attempts,
            created_at=self.created_at,
            next_attempt_at=self.next_attempt_at,
            error=self.error,
            finished_at=self.finished_at,
        )


class InMemoryAsyncInvocationStore:
    """Async invocations in memory; lost when the process ends."""

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}

    def __repr__(self) -> str:
        return f"InMemoryAsyncInvocationStore({len(self._rows)} invocations)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def enqueue(self, invocation: AsyncInvocation, *, max_queued: int | None = None) -> bool:
        row = new_invocation_row(invocation)
        if invocation.request_id in self._rows:
            raise ValueError(f"async invocation {invocation.request_id} is already stored")
        name, function, payload, qualifier, _, _, created_at, due, _, _ = row
        if max_queued is not None:
            queued = sum(r.function == function and r.status == QUEUED for r in self._rows.values())
            if queued >= max_queued:
                return False
        self._rows[name] = _Row(name, function, payload, qualifier, QUEUED, 0, created_at, due)
        return True

    async def claim_due(
        self,
        owner: str,
        now: float,
        lease_seconds: float,
        limit: int,
        *,
        skip_functions: Collection[str] = (),
    ) -> list[AsyncInvocation]:
        check_claim(lease_seconds, limit)
        skipped = frozenset(skip_functions)
        due = sorted(
            (row.next_attempt_at, key)
            for key, row in self._rows.items()
            if row.status is QUEUED and row.next_attempt_at <= now and row.function not in skipped
        )[:limit]
        until = now + lease_seconds
        claimed: list[AsyncInvocation] = []
        for _, key in due:
            row = self._rows[key]
            row.attempts += 1
            row.lease_owner, row.lease_until, row.next_attempt_at = owner, until, until
            claimed.append(row.record())
        return claimed

    async def release(self, owner: str, now: float) -> int:
        held = [
            row
            for row in self._rows.values()
            if row.status is QUEUED
            and row.lease_owner == owner
            and row.lease_until is not None
            and row.lease_until > now
        ]
        for row in held:
            row.next_attempt_at = now
            row.lease_owner = row.lease_until = None
        return len(held)

    async def succeed(self, request_id: str, now: float) -> None:
        row = self._rows.get(request_id)
        if row is None or row.status is not QUEUED:
            return
        row.status, row.finished_at = SUCCEEDED, now
        row.lease_owner = row.lease_until = None

    async def fail(
        self,
        request_id: str,
        error: str | None,
        now: float,
        retry_at: float | None,
        *,
        counted: bool = True,
    ) -> None:
        row = self._rows.get(request_id)
        if row is None or row.status is not QUEUED:
            return  # finished meanwhile (by a node whose claim outlived ours)
        if error is not None:
            row.error = error
        row.lease_owner = row.lease_until = None
        if not counted:
            row.attempts = max(row.attempts - 1, 0)
        if retry_at is None:
            row.status, row.finished_at = DEAD, now
        else:
            row.next_attempt_at = retry_at

    async def get(self, request_id: str) -> AsyncInvocation | None:
        row = self._rows.get(request_id)
        return None if row is None else row.record()

    async def list_invocations(
        self,
        status: AsyncInvocationStatus | None = None,
        function: str | None = None,
        limit: int = 100,
    ) -> list[AsyncInvocation]:
        check_limit(limit)
        wanted = None if status is None else AsyncInvocationStatus(status)
        rows = sorted(
            (
                row
                for row in self._rows.values()
                if (wanted is None or row.status is wanted)
                and (function is None or row.function == function)
            ),
            key=lambda row: (row.created_at, row.request_id),
        )[:limit]
        return [row.record() for row in rows]

    async def redrive(
        self, now: float, request_ids: Sequence[str] | None = None, function: str | None = None
    ) -> list[str]:
        ids = check_request_ids(request_ids)
        candidates = self._rows.values() if ids is None else (self._rows.get(i) for i in ids)
        dead = sorted(
            (
                row
                for row in candidates
                if row is not None
                and row.status is DEAD
                and (function is None or row.function == function)
            ),
            key=lambda row: (row.created_at, row.request_id),
        )
        for row in dead:
            row.status, row.attempts, row.next_attempt_at = QUEUED, 0, now
            row.error = row.finished_at = None
        return [row.request_id for row in dead]

    async def purge_succeeded(self, before: float, limit: int = 1000) -> int:
        check_limit(limit)
        finished = sorted(
            (row.finished_at, key)
            for key, row in self._rows.items()
            if row.status is SUCCEEDED and row.finished_at is not None and row.finished_at < before
        )[:limit]
        for _, key in finished:
            del self._rows[key]
        return len(finished)
