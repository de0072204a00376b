"""``LiveRun``: an executing run's state, shared by its executor and whoever asks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lockgate.models.run import RunRecord, RunStatus, StepRecord

__all__ = ["LiveRun"]


@dataclass(eq=False, slots=True)
class LiveRun:
    """An executing run's state, shared with whoever asks about the run meanwhile.

    ``steps`` holds a record for every step that started (running ones included);
    ``cancel_requested`` turns the next cancellation of the run's task into a cancelled run
    rather than a shutdown (after which the run resumes on restart); ``finishing`` is the
    commit of the outcome once it has begun; ``metadata`` is its registered workflow's
    (read as each step runs: ``debug`` turned on meanwhile applies to the next step).
    """

    run: RunRecord
    steps: dict[str, StepRecord] = field(default_factory=dict)
    cancel_requested: bool = False
    status: RunStatus = RunStatus.RUNNING
    error: str | None = None
    finished_at: float | None = None
    finishing: asyncio.Future[RunStatus] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def snapshot(self) -> RunRecord:
        """The run as it stands now."""
        return replace(
            self.run,
            status=self.status,
            error=self.error,
            steps=dict(self.steps),
            updated_at=self.finished_at or self.run.updated_at,
        )
