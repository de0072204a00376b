"""Counters and histograms about invocations, ``Event`` invocations and workflow runs; none
sees a payload."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["IAsyncInvocationMetrics", "IInvocationMetrics", "IWorkflowMetrics"]


@runtime_checkable
class IInvocationMetrics(Protocol):
    """Counters and histograms about invocations; never sees payloads."""

    def invocation_finished(self, function: str, outcome: str, duration_s: float) -> None:
        """Record one invocation.

        Args:
            function: The function's name.
            outcome: ``success``, ``handler_error``, ``timeout``, ``crash``, ``init_error``,
                ``throttled``, ``circuit_open`` or ``error``.
            duration_s: Wall time the gateway spent on it.
        """
        ...

    def cold_start(self, function: str, duration_s: float) -> None:
        """Record one worker start that succeeded."""
        ...


@runtime_checkable
class IAsyncInvocationMetrics(Protocol):
    """Counts of ``Event`` invocation attempts; never sees payloads."""

    def async_attempt_finished(self, function: str, outcome: str) -> None:
        """Record one attempt's outcome.

        Args:
            function: The function's name.
            outcome: ``succeeded``, ``retried`` (a function error, to be tried again),
                ``dead`` (no attempt left, or too old) or ``deferred`` (refused before it
                ran: throttled, breaker open; tried again without counting).
        """
        ...


@runtime_checkable
class IWorkflowMetrics(Protocol):
    """Counters and histograms about workflow runs and steps; never sees their data."""

    def run_finished(self, workflow: str, status: str, duration_s: float) -> None:
        """Record one run's end.

        Args:
            workflow: The id the workflow is registered under.
            status: ``completed``, ``failed`` or ``cancelled``.
            duration_s: From the run's creation to its end (restarts included).
        """
        ...

    def step_finished(self, workflow: str, step: str, status: str, duration_s: float) -> None:
        """Record one step's end (``completed`` or ``failed``), retries included."""
        ...
