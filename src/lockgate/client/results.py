"""What the client returns: runs, their steps, run listings.

Each is built by ``from_dict`` from the gateway's JSON. Keys the client does not know are
ignored, so a newer gateway that adds fields keeps older clients working; a known key that
is missing or of the wrong type is an ``InvalidResponse`` naming it (never a ``TypeError``
from a constructor). Statuses are kept as strings for the same reason: a status this client
has never heard of still parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from lockgate.client.errors import InvalidResponse

__all__ = ["RunList", "RunSummary", "StepInfo", "WorkflowResult"]


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidResponse(f"{what}: expected an object, got {type(data).__name__}")
    return data


def _get(data: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise InvalidResponse(f"{what}: the gateway's answer has no {key!r}") from None


def _text(data: Mapping[str, Any], key: str, what: str, *, optional: bool = False) -> Any:
    value = _get(data, key, what)
    if isinstance(value, str) or (optional and value is None):
        return value
    expected = "a string or null" if optional else "a string"
    raise InvalidResponse(f"{what}: {key!r} should be {expected}, got {type(value).__name__}")


def _number(data: Mapping[str, Any], key: str, what: str, *, optional: bool = False) -> Any:
    value = _get(data, key, what)
    if optional and value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    expected = "a number or null" if optional else "a number"
    raise InvalidResponse(f"{what}: {key!r} should be {expected}, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One step of a run: ``pending``, ``running``, ``completed``, ``failed`` or
    ``cancelled``, with its error, attempts and timings (Unix seconds, milliseconds)."""

    status: str
    error: str | None
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration_ms: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, step: str = "") -> Self:
        what = f"step {step!r}" if step else "step"
        data = _mapping(data, what)
        attempts = _get(data, "attempts", what)
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            raise InvalidResponse(f"{what}: 'attempts' should be an integer")
        return cls(
            status=_text(data, "status", what),
            error=_text(data, "error", what, optional=True),
            attempts=attempts,
            started_at=_number(data, "started_at", what, optional=True),
            finished_at=_number(data, "finished_at", what, optional=True),
            duration_ms=_number(data, "duration_ms", what, optional=True),
        )


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    """A run of a workflow.

    Attributes:
        run_id, workflow_id: Which run of which workflow.
        status: ``running``, ``completed``, ``failed`` or ``cancelled``.
        result: Output by step name, for every step that completed (a failed run keeps
            those that finished before the failure).
        error: Why the run failed or was cancelled, naming the step; None otherwise.
        steps: Every step's state, by name.
        created_at, finished_at: Unix seconds; ``finished_at`` is None while running.
    """

    run_id: str
    workflow_id: str
    status: str
    result: dict[str, Any]
    error: str | None
    steps: dict[str, StepInfo]
    created_at: float
    finished_at: float | None

    @property
    def is_success(self) -> bool:
        return self.status == "completed"

    @property
    def is_finished(self) -> bool:
        """The run will not change any more (completed, failed or cancelled)."""
        return self.finished_at is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read the gateway's JSON for a run; unknown keys are ignored.

        Raises:
            InvalidResponse: A known key is missing or has the wrong type.
        """
        what = "run"
        data = _mapping(data, what)
        result = _get(data, "result", what)
        steps = _get(data, "steps", what)
        if not isinstance(result, Mapping):
            raise InvalidResponse(f"{what}: 'result' should be an object")
        if not isinstance(steps, Mapping):
            raise InvalidResponse(f"{what}: 'steps' should be an object")
        return cls(
            run_id=_text(data, "run_id", what),
            workflow_id=_text(data, "workflow_id", what),
            status=_text(data, "status", what),
            result=dict(result),
            error=_text(data, "error", what, optional=True),
            steps={name: StepInfo.from_dict(step, step=name) for name, step in steps.items()},
            created_at=_number(data, "created_at", what),
            finished_at=_number(data, "finished_at", what, optional=True),
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as listings show it (without results or steps)."""

    run_id: str
    workflow_id: str
    status: str
    error: str | None
    created_at: float
    finished_at: float | None

    @property
    def is_success(self) -> bool:
        return self.status == "completed"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        what = "run summary"
        data = _mapping(data, what)
        return cls(
            run_id=_text(data, "run_id", what),
            workflow_id=_text(data, "workflow_id", what),
            status=_text(data, "status", what),
            error=_text(data, "error", what, optional=True),
            created_at=_number(data, "created_at", what),
            finished_at=_number(data, "finished_at", what, optional=True),
        )


@dataclass(frozen=True, slots=True)
class RunList:
    """One page of runs, newest first; pass ``next_cursor`` for the next (None: last page)."""

    runs: list[RunSummary]
    next_cursor: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        what = "run list"
        data = _mapping(data, what)
        runs = _get(data, "runs", what)
        if not isinstance(runs, list):
            raise InvalidResponse(f"{what}: 'runs' should be a list")
        return cls(
            runs=[RunSummary.from_dict(run) for run in runs],
            next_cursor=_text(data, "next_cursor", what, optional=True),
        )
