"""Invocation metrics in Prometheus format, on a registry of the gateway's own."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from lockgate.models.pool import BreakerState, PoolStats

__all__ = ["PrometheusMetrics"]

_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BOUND_LABELS = (*(str(float(bound)) for bound in _DURATION_BUCKETS), "+Inf")


class PrometheusMetrics:
    """See ``IInvocationMetrics``, ``IAsyncInvocationMetrics`` and ``IWorkflowMetrics``;
    pool gauges are read from the pools at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Every invocation lands here, so these are plain counts rendered at scrape time:
        # prometheus_client's metric objects take a lock per update. One event loop updates
        # them, so no lock is needed.
        self._invocations: dict[tuple[str, str], int] = {}
        self._durations: dict[str, _Buckets] = {}
        self.registry.register(_InvocationCollector(self._invocations, self._durations))
        self._runs: dict[tuple[str, str], int] = {}
        self._run_durations: dict[str, _Buckets] = {}
        self._steps: dict[tuple[str, str, str], int] = {}
        self._step_durations: dict[tuple[str, str], _Buckets] = {}
        self.registry.register(
            _WorkflowCollector(self._runs, self._run_durations, self._steps, self._step_durations)
        )
        self._cold_starts = Counter(
            "lockgate_cold_starts",
            "Worker starts that succeeded.",
            ("function",),
            registry=self.registry,
        )
        self._cold_start_duration = Histogram(
            "lockgate_cold_start_duration_seconds",
            "Time from spawn to a ready worker.",
            ("function",),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._async_attempts = Counter(
            "lockgate_async_invocation_attempts",
            "Event invocation attempts by outcome: succeeded, retried, dead or deferred.",
            ("function", "outcome"),
            registry=self.registry,
        )
        self._timeouts = Counter(
            "lockgate_timeouts",
            "Invocations that ran past their deadline.",
            ("function",),
            registry=self.registry,
        )

    def watch(
        self,
        pool_stats: Callable[[], Iterable[PoolStats]],
        breaker_states: Callable[[], Iterable[tuple[str, BreakerState]]],
    ) -> None:
        """Report pool gauges and breaker states, read from these sources at each scrape."""
        self.registry.register(_PoolCollector(pool_stats, breaker_states))

    def watch_module_calls(self, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        """Report calls between modules, read from ``counts`` (by source and target) at
        each scrape: the call path itself only bumps a dict entry."""
        self.registry.register(_ModuleCallCollector(counts))

    def watch_events(self, stats: Callable[[], Mapping[str, int]]) -> None:
        """Report the event bus's counters (``EventBus.stats``: published, delivered,
        failed_attempts, dead, in_flight), read at each scrape."""
        self.registry.register(_EventCollector(stats))

    def invocation_finished(self, function: str, outcome: str, duration_s: float) -> None:
        key = (function, outcome)
        self._invocations[key] = self._invocations.get(key, 0) + 1
        _observe(self._durations, function, duration_s)
        if outcome == "timeout":
            self._timeouts.labels(function).inc()

    def async_attempt_finished(self, function: str, outcome: str) -> None:
        self._async_attempts.labels(function, outcome).inc()

    def run_finished(self, workflow: str, status: str, duration_s: float) -> None:
        key = (workflow, status)
        self._runs[key] = self._runs.get(key, 0) + 1
        _observe(self._run_durations, workflow, duration_s)

    def step_finished(self, workflow: str, step: str, status: str, duration_s: float) -> None:
        key = (workflow, step, status)
        self._steps[key] = self._steps.get(key, 0) + 1
        _observe(self._step_durations, (workflow, step), duration_s)

    def cold_start(self, function: str, duration_s: float) -> None:
        self._cold_starts.labels(function).inc()
        self._cold_start_duration.labels(function).observe(duration_s)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class _Buckets:
    """One histogram's counts: per bucket (not cumulative), and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(_DURATION_BUCKETS, value)] += 1
        self.total += value


def _observe(histograms: dict[Any, _Buckets], key: Any, value: float) -> None:
    buckets = histograms.get(key)
    if buckets is None:
        buckets = histograms[key] = _Buckets()
    buckets.observe(value)


def _histogram(
    name: str, documentation: str, labels: tuple[str, ...], histograms: dict[Any, _Buckets]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for key, buckets in list(histograms.items()):
        cumulative = list(itertools.accumulate(buckets.counts))
        family.add_metric(
            key if isinstance(key, tuple) else (key,),
            list(zip(_BOUND_LABELS, cumulative, strict=True)),
            buckets.total,
        )
    return family


class _WorkflowCollector(Collector):
    def __init__(
        self,
        runs: dict[tuple[str, str], int],
        run_durations: dict[str, _Buckets],
        steps: dict[tuple[str, str, str], int],
        step_durations: dict[tuple[str, str], _Buckets],
    ) -> None:
        self._runs = runs
        self._run_durations = run_durations
        self._steps = steps
        self._step_durations = step_durations

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "lockgate_workflow_runs",
            "Finished workflow runs by workflow and status.",
            labels=("workflow", "status"),
        )
        for key, count in list(self._runs.items()):
            runs.add_metric(key, count)
        steps = CounterMetricFamily(
            "lockgate_workflow_steps",
            "Finished workflow steps by workflow, step and status.",
            labels=("workflow", "step", "status"),
        )
        for key3, count in list(self._steps.items()):
            steps.add_metric(key3, count)
        yield runs
        yield steps
        yield _histogram(
            "lockgate_workflow_run_duration_seconds",
            "From a run's creation to its end.",
            ("workflow",),
            self._run_durations,
        )
        yield _histogram(
            "lockgate_workflow_step_duration_seconds",
            "A step's time, retries included.",
            ("workflow", "step"),
            self._step_durations,
        )


class _ModuleCallCollector(Collector):
    def __init__(self, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        self._counts = counts

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "lockgate_module_calls",
            "Allowed inter_module_call calls by source and target module.",
            labels=("source", "target"),
        )
        for key, count in self._counts().items():
            calls.add_metric(key, count)
        yield calls


class _EventCollector(Collector):
    def __init__(self, stats: Callable[[], Mapping[str, int]]) -> None:
        self._stats = stats

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield CounterMetricFamily(
            "lockgate_events_published",
            "Events published on this node.",
            value=stats["published"],
        )
        deliveries = CounterMetricFamily(
            "lockgate_event_deliveries",
            "Event delivery attempts to subscribers on this node by outcome: delivered, "
            "failed (an attempt that will be retried or end dead) or dead (no attempt left).",
            labels=("outcome",),
        )
        deliveries.add_metric(("delivered",), stats["delivered"])
        deliveries.add_metric(("failed",), stats["failed_attempts"])
        deliveries.add_metric(("dead",), stats["dead"])
        yield deliveries
        yield GaugeMetricFamily(
            "lockgate_event_deliveries_in_flight",
            "Deliveries under way on this node, retries waiting included.",
            value=stats["in_flight"],
        )


class _InvocationCollector(Collector):
    def __init__(
        self, invocations: dict[tuple[str, str], int], durations: dict[str, _Buckets]
    ) -> None:
        self._invocations = invocations
        self._durations = durations

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        counter = CounterMetricFamily(
            "lockgate_invocations",
            "Invocations by function and outcome.",
            labels=("function", "outcome"),
        )
        for (function, outcome), count in list(self._invocations.items()):
            counter.add_metric((function, outcome), count)
        yield counter
        yield _histogram(
            "lockgate_invocation_duration_seconds",
            "Time the gateway spent on an invocation, queueing included.",
            ("function",),
            self._durations,
        )


class _PoolCollector(Collector):
    def __init__(
        self,
        pool_stats: Callable[[], Iterable[PoolStats]],
        breaker_states: Callable[[], Iterable[tuple[str, BreakerState]]],
    ) -> None:
        self._pool_stats = pool_stats
        self._breaker_states = breaker_states

    def describe(self) -> list[Metric]:
        return []  # families are only known at scrape time

    def collect(self) -> Iterator[Metric]:
        workers = GaugeMetricFamily(
            "lockgate_pool_workers", "Workers by state.", labels=("function", "state")
        )
        queued = GaugeMetricFamily(
            "lockgate_pool_queue_depth", "Callers waiting for a worker.", labels=("function",)
        )
        capacity = GaugeMetricFamily(
            "lockgate_pool_max_capacity", "Workers allowed at most.", labels=("function",)
        )
        for stats in self._pool_stats():
            workers.add_metric((stats.function, "warm"), stats.warm)
            workers.add_metric((stats.function, "busy"), stats.busy)
            workers.add_metric((stats.function, "starting"), stats.starting)
            queued.add_metric((stats.function,), stats.queued)
            capacity.add_metric((stats.function,), stats.max_capacity)
        breaker = GaugeMetricFamily(
            "lockgate_circuit_breaker_state",
            "1 for the breaker's current state.",
            labels=("function", "state"),
        )
        for function, state in self._breaker_states():
            for candidate in BreakerState:
                breaker.add_metric((function, candidate.value), float(candidate is state))
        yield from (workers, queued, capacity, breaker)
