"""Metrics render in the Prometheus text format with the names and labels operators query."""

from __future__ import annotations

from lockgate.gateways.metrics.prometheus import PrometheusMetrics
from lockgate.models.pool import BreakerState, PoolStats


def test_invocations_durations_cold_starts_pools_and_breakers_are_exported() -> None:
    metrics = PrometheusMetrics()
    stats = PoolStats(
        "echo",
        "abc",
        warm=2,
        busy=1,
        starting=0,
        queued=3,
        max_capacity=8,
        cold_starts=3,
        last_init_error=None,
    )
    metrics.watch(lambda: [stats], lambda: [("echo", BreakerState.HALF_OPEN)])
    metrics.invocation_finished("echo", "success", 0.005)
    metrics.invocation_finished("echo", "success", 0.3)
    metrics.invocation_finished("echo", "timeout", 31)
    metrics.cold_start("echo", 0.05)
    text = metrics.render().decode()
    assert 'lockgate_invocations_total{function="echo",outcome="success"} 2.0' in text
    assert 'lockgate_invocations_total{function="echo",outcome="timeout"} 1.0' in text
    # Buckets are cumulative and "le" is inclusive: 0.005 falls in le="0.005".
    assert 'lockgate_invocation_duration_seconds_bucket{function="echo",le="0.0025"} 0.0' in text
    assert 'lockgate_invocation_duration_seconds_bucket{function="echo",le="0.005"} 1.0' in text
    assert 'lockgate_invocation_duration_seconds_bucket{function="echo",le="0.5"} 2.0' in text
    assert 'lockgate_invocation_duration_seconds_bucket{function="echo",le="+Inf"} 3.0' in text
    assert 'lockgate_invocation_duration_seconds_count{function="echo"} 3.0' in text
    assert 'lockgate_invocation_duration_seconds_sum{function="echo"} 31.305' in text
    assert 'lockgate_timeouts_total{function="echo"} 1.0' in text
    assert 'lockgate_cold_starts_total{function="echo"} 1.0' in text
    assert 'lockgate_pool_workers{function="echo",state="warm"} 2.0' in text
    assert 'lockgate_pool_queue_depth{function="echo"} 3.0' in text
    assert 'lockgate_circuit_breaker_state{function="echo",state="half_open"} 1.0' in text
    assert 'lockgate_circuit_breaker_state{function="echo",state="closed"} 0.0' in text


def test_workflow_runs_and_steps_are_counted_and_timed() -> None:
    metrics = PrometheusMetrics()
    metrics.run_finished("etl", "completed", 0.02)
    metrics.run_finished("etl", "failed", 0.5)
    metrics.step_finished("etl", "extract", "completed", 0.004)
    metrics.step_finished("etl", "load", "failed", 0.3)
    text = metrics.render().decode()
    assert 'lockgate_workflow_runs_total{status="completed",workflow="etl"} 1.0' in text
    assert 'lockgate_workflow_runs_total{status="failed",workflow="etl"} 1.0' in text
    assert 'lockgate_workflow_steps_total{status="failed",step="load",workflow="etl"} 1.0' in text
    assert 'lockgate_workflow_run_duration_seconds_count{workflow="etl"} 2.0' in text
    assert (
        'lockgate_workflow_step_duration_seconds_bucket{le="0.005",step="extract",workflow="etl"}'
        " 1.0" in text
    )


def test_the_event_buss_counters_are_read_at_each_scrape() -> None:
    metrics = PrometheusMetrics()
    stats = {"published": 5, "delivered": 3, "failed_attempts": 2, "dead": 1, "in_flight": 1}
    metrics.watch_events(lambda: stats)
    text = metrics.render().decode()
    assert "lockgate_events_published_total 5.0" in text
    assert 'lockgate_event_deliveries_total{outcome="delivered"} 3.0' in text
    assert 'lockgate_event_deliveries_total{outcome="failed"} 2.0' in text
    assert 'lockgate_event_deliveries_total{outcome="dead"} 1.0' in text
    assert "lockgate_event_deliveries_in_flight 1.0" in text
    stats["delivered"] = 4
    assert 'lockgate_event_deliveries_total{outcome="delivered"} 4.0' in metrics.render().decode()
