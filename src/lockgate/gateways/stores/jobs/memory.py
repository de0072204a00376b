"""``InMemoryJobStore``: job runs in a dict, for tests and throwaway gateways.

Behaves like the durable stores (upsert by id, newest first, filters, checks) but keeps
nothing across a restart.
"""

from __future__ import annotations

from lockgate.gateways.stores.arguments import check_limit
from lockgate.gateways.stores.jobs.schema import job_run, job_run_row
from lockgate.models.job import JobRun

__all__ = ["InMemoryJobStore"]


class InMemoryJobStore:
    """Job runs in memory; lost when the process ends."""

    def __init__(self) -> None:
        self._runs: dict[str, JobRun] = {}

    def __repr__(self) -> str:
        return f"InMemoryJobStore({len(self._runs)} runs)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def save(self, run: JobRun) -> None:
        # Through a row and back, as the durable stores do: the same checks, and a status
        # given as a plain string comes back a JobStatus.
        self._runs[run.run_id] = job_run(job_run_row(run))

    async def get(self, run_id: str) -> JobRun | None:
        return self._runs.get(run_id)

    async def list_runs(
        self, job: str | None = None, unfinished: bool = False, limit: int = 100
    ) -> list[JobRun]:
        check_limit(limit)
        runs = sorted(
            (
                run
                for run in self._runs.values()
                if (job is None or run.job == job) and not (unfinished and run.status.finished)
            ),
            key=lambda run: (run.created_at, run.run_id),
            reverse=True,
        )
        return runs[:limit]
