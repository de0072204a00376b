"""``InMemoryRunStore``: the run store in a dict, for tests and throwaway gateways.

Behaves like the durable stores (idempotency, leases, paging, JSON round trips) but keeps
nothing across a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lockgate import json_codec
from lockgate.gateways.stores.runs.ports import StepWrite
from lockgate.gateways.stores.runs.schema import check_cursor
from lockgate.models.run import RunPage, RunRecord, RunStatus, StepRecord

__all__ = ["InMemoryRunStore"]


def _stored(write: StepWrite) -> StepRecord:
    record, output = write
    return replace(record, output=json_codec.loads(output) if output is not None else None)


class InMemoryRunStore:
    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._keys: dict[str, str] = {}
        self._leases: dict[str, tuple[str | None, float]] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def create_run(
        self, run: RunRecord, *, owner: str, lease_seconds: float, wait: bool = True
    ) -> RunRecord:
        if not wait and run.idempotency_key is not None:
            raise ValueError("a run with an idempotency key must be created with wait=True")
        if run.idempotency_key is not None and run.idempotency_key in self._keys:
            return self._runs[self._keys[run.idempotency_key]]
        # A round trip through JSON, as the durable stores do.
        stored = replace(
            run,
            parameters=json_codec.loads(json_codec.dumps(run.parameters)),
            resources=json_codec.loads(json_codec.dumps(run.resources)),
            context=json_codec.loads(json_codec.dumps(run.context)),
            steps={},
        )
        self._runs[run.run_id] = stored
        if run.idempotency_key is not None:
            self._keys[run.idempotency_key] = run.run_id
        self._leases[run.run_id] = (owner, run.created_at + lease_seconds)
        return run

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        run = self._runs[run_id]
        self._runs[run_id] = replace(run, steps={**run.steps, step[0].name: _stored(step)})

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        run = self._runs.get(run_id)
        if run is None or run.status.finished:
            return False
        records = {**run.steps, **{write[0].name: _stored(write) for write in steps}}
        self._runs[run_id] = replace(run, status=status, error=error, updated_at=at, steps=records)
        self._leases[run_id] = (None, 0.0)
        return True

    async def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        principal: str | None = None,
    ) -> RunPage:
        before = check_cursor(cursor) if cursor is not None else None
        matching = [
            run
            for run_id, run in sorted(self._runs.items(), reverse=True)
            if (workflow_id is None or run.workflow_id == workflow_id)
            and (status is None or run.status is status)
            and (principal is None or run.principal == principal)
            and (before is None or run_id < before)
        ]
        page = tuple(replace(run, steps={}) for run in matching[:limit])
        return RunPage(page, page[-1].run_id if len(matching) > limit else None)

    async def claim_runs(
        self, owner: str, lease_seconds: float, now: float, *, own: bool = True
    ) -> list[RunRecord]:
        claimed = []
        for run_id, run in self._runs.items():
            holder, until = self._leases[run_id]
            mine = holder == owner
            if mine and not own:
                continue
            if not run.status.finished and (mine or holder is None or until < now):
                self._leases[run_id] = (owner, now + lease_seconds)
                claimed.append(run)
        return claimed

    async def renew_leases(self, owner: str, lease_seconds: float, now: float) -> list[str]:
        held = [
            run_id
            for run_id, (holder, _) in self._leases.items()
            if holder == owner and not self._runs[run_id].status.finished
        ]
        for run_id in held:
            self._leases[run_id] = (owner, now + lease_seconds)
        return held

    async def purge_runs(self, finished_before: float, limit: int = 1000) -> int:
        doomed = sorted(
            run_id
            for run_id, run in self._runs.items()
            if run.status.finished and run.updated_at < finished_before
        )[:limit]
        for run_id in doomed:
            run = self._runs.pop(run_id)
            self._leases.pop(run_id, None)
            if run.idempotency_key is not None:
                self._keys.pop(run.idempotency_key, None)
        return len(doomed)
