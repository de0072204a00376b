"""Invocation metrics in Prometheus format, on a registry of the gateway's own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lockgate.models.pool import BreakerState, PoolStats

__all__ = ["PrometheusMetrics"]

_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PrometheusMetrics:
    """See ``IInvocationMetrics``; pool gauges are read from the pools at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._invocations = Counter(
            "lockgate_invocations",
            "Invocations by function and outcome.",
            ("function", "outcome"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "lockgate_invocation_duration_seconds",
            "Time the gateway spent on an invocation, queueing included.",
            ("function",),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
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

    def invocation_finished(self, function: str, outcome: str, duration_s: float) -> None:
        # labels() takes a lock and builds a key each time; this runs on every invocation.
        children = self._children.get((function, outcome))
        if children is None:
            children = self._children[(function, outcome)] = (
                self._invocations.labels(function, outcome),
                self._duration.labels(function),
            )
        children[0].inc()
        children[1].observe(duration_s)
        if outcome == "timeout":
            self._timeouts.labels(function).inc()

    def cold_start(self, function: str, duration_s: float) -> None:
        self._cold_starts.labels(function).inc()
        self._cold_start_duration.labels(function).observe(duration_s)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


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
