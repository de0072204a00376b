"""What the log lines of the work in hand are tagged with: the request's id (set by the HTTP
layer) and the workflow run's id (set while a run executes)."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["request_id_var", "run_id_var"]

request_id_var: ContextVar[str | None] = ContextVar("lockgate_request_id", default=None)
run_id_var: ContextVar[str | None] = ContextVar("lockgate_run_id", default=None)
