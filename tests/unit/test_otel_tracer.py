"""The OpenTelemetry adapter on its own: parentage, sampling, failures by type only, and
spans made with OpenTelemetry's own API inside one of ours."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lockgate.gateways.tracing.otel import OpenTelemetryTracer, _sampling
from lockgate.models.trace import SpanKind, TraceContext, TracingConfig

CALLER = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def test_a_request_span_starts_from_the_callers_traceparent_and_children_follow(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = OpenTelemetryTracer(SimpleSpanProcessor(exporter))
    with tracer.span("GET", kind=SpanKind.SERVER, headers={"traceparent": CALLER.traceparent}):
        with tracer.span("child", parent=TraceContext("1" * 32, "2" * 16, True)) as child:
            handed = child.context()
        assert tracer.current().context() is not None

    inner, outer = exporter.get_finished_spans()
    assert handed is not None
    assert handed.trace_id == CALLER.trace_id  # the current span wins over a fallback parent
    assert outer.parent is not None
    assert f"{outer.parent.span_id:016x}" == CALLER.span_id
    assert inner.parent is not None
    assert outer.context is not None
    assert inner.parent.span_id == outer.context.span_id


def test_an_unsampled_caller_is_followed_and_nothing_is_exported(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = OpenTelemetryTracer(SimpleSpanProcessor(exporter))
    unsampled = TraceContext(CALLER.trace_id, CALLER.span_id, False)

    with tracer.span("GET", headers={"traceparent": unsampled.traceparent}) as span:
        handed = span.context()

    assert handed is not None
    assert handed.sampled is False
    assert handed.amzn_trace_id.endswith(";Sampled=0")
    assert exporter.get_finished_spans() == ()


def test_a_ratio_of_zero_records_no_new_trace(exporter: InMemorySpanExporter) -> None:
    tracer = OpenTelemetryTracer(SimpleSpanProcessor(exporter), ratio=0.0)
    for _ in range(20):
        with tracer.span("root"):
            pass
    assert exporter.get_finished_spans() == ()


def test_an_exception_fails_the_span_by_its_type_alone(exporter: InMemorySpanExporter) -> None:
    tracer = OpenTelemetryTracer(SimpleSpanProcessor(exporter))
    with pytest.raises(ValueError, match="password"), tracer.span("step"):
        raise ValueError("password=hunter2")

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError"
    assert "hunter2" not in str(span.to_json())


def test_spans_made_with_opentelemetrys_api_inside_ours_are_its_children(
    exporter: InMemorySpanExporter,
) -> None:
    tracer = OpenTelemetryTracer(SimpleSpanProcessor(exporter))
    provider = TracerProvider()  # the SDK's own, as a step's code would use
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.span("step s") as step:
        with provider.get_tracer("user").start_as_current_span("own"):
            pass
        context = step.context()

    own = next(s for s in exporter.get_finished_spans() if s.name == "own")
    assert context is not None
    assert own.parent is not None
    assert f"{own.parent.span_id:016x}" == context.span_id
    assert trace.get_current_span().get_span_context().is_valid is False  # detached again


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, (1.0, True)),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, (0.0, False)),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}, (1.0, True)),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
            (0.25, False),
        ),
    ],
)
def test_the_sdks_sampler_variables_apply_when_the_table_is_silent(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: tuple[float, bool]
) -> None:
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert _sampling(TracingConfig(enabled=True)) == expected
    assert _sampling(TracingConfig(enabled=True, sample_ratio=0.5)) == (0.5, True)
