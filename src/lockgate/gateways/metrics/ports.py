"""Counters and histograms about invocations, ``Event`` invocations and workflow runs; none
sees a payload."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["IAsyncInvocationMetrics", "IInvocationMetrics", "IWorkflowMetrics"]

# Every method here is called on a hot path, so each only updates memory: the Prometheus
# implementation's counters are read when /metrics is scraped, never pushed.


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

        Raises:
            Nothing: a metric must never fail an invocation.

        Side Effects:
            Counts it, and observes its duration.

        Note:
            No external call: ``prometheus_client`` counters in memory, read at scrape time.
        """
        ...

    def cold_start(self, function: str, duration_s: float) -> None:
        """Record one worker start that succeeded.

        Args:
            function: The function's name.
            duration_s: From the launch to the handler being imported.

        Raises:
            Nothing.

        Side Effects:
            Counts it, and observes its duration.

        Note:
            No external call: ``prometheus_client`` counters in memory.
        """
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

        Raises:
            Nothing.

        Side Effects:
            Counts it.

        Note:
            No external call: a ``prometheus_client`` counter in memory.
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

        Raises:
            Nothing.

        Side Effects:
            Counts it, and observes its duration.

        Note:
            No external call: ``prometheus_client`` counters in memory.
        """
        ...

    def step_finished(self, workflow: str, step: str, status: str, duration_s: float) -> None:
        """Record one step's end, retries included.

        Args:
            workflow: The id the workflow is registered under.
            step: The step's name.
            status: ``completed`` or ``failed``.
            duration_s: From its first attempt's start to its end.

        Raises:
            Nothing.

        Side Effects:
            Counts it, and observes its duration.

        Note:
            No external call: ``prometheus_client`` counters in memory.
        """
        ...
