"""Trace context in its two spellings (W3C ``traceparent``, AWS ``X-Amzn-Trace-Id``), checked
against OpenTelemetry's own propagators; the no-op tracer; the ``[tracing]`` table."""

from __future__ import annotations

import os
import re
from pathlib import Path
from unittest.mock import patch

import pytest
from opentelemetry.propagators.aws.aws_xray_propagator import AwsXRayPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lockgate.config.settings import load_config
from lockgate.errors import ConfigError
from lockgate.gateways.interfaces import NO_TRACER
from lockgate.gateways.workers.runtime_api.codec import event_headers
from lockgate.models.context import InputContext
from lockgate.models.invocation import WorkerInvocation
from lockgate.models.trace import TraceContext, TracingConfig
from lockgate.use_cases.apigw.events import with_trace_headers
from lockgate.worker.runtime import _set_trace as set_trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.mark.parametrize("sampled", [True, False])
def test_both_spellings_are_what_opentelemetrys_propagators_write(sampled: bool) -> None:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    span = NonRecordingSpan(SpanContext(int(TRACE, 16), int(SPAN, 16), True, flags))
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, set_span_in_context(span))
    AwsXRayPropagator().inject(carrier, set_span_in_context(span))

    context = TraceContext(TRACE, SPAN, sampled)

    assert context.traceparent == carrier["traceparent"]
    assert context.amzn_trace_id == carrier["X-Amzn-Trace-Id"]
    assert context.header_values() == (carrier["traceparent"], carrier["X-Amzn-Trace-Id"])
    assert TraceContext.from_traceparent(carrier["traceparent"]) == context

    # The worker, sent the W3C spelling alone, sets both in the handler's environment.
    environ = {"_X_AMZN_TRACE_ID": "stale", "TRACEPARENT": "stale"}
    with patch.dict(os.environ, environ):
        set_trace(carrier["traceparent"])
        assert os.environ["_X_AMZN_TRACE_ID"] == carrier["X-Amzn-Trace-Id"]
        assert os.environ["TRACEPARENT"] == carrier["traceparent"]
        set_trace(None)  # an untraced invocation: a fresh, unsampled root, as on Lambda
        fresh = os.environ["_X_AMZN_TRACE_ID"]
        assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", fresh)
        assert fresh.split(";")[0] != carrier["X-Amzn-Trace-Id"].split(";")[0]
        assert "TRACEPARENT" not in os.environ


def test_the_xray_root_carries_the_trace_ids_first_eight_digits_as_its_epoch_part() -> None:
    assert TraceContext(TRACE, SPAN, True).amzn_trace_id == (
        "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        f"00-{TRACE}-{SPAN}",  # no flags
        f"00-{'0' * 32}-{SPAN}-01",  # the invalid trace id
        f"00-{TRACE}-{'0' * 16}-01",  # the invalid span id
        f"ff-{TRACE}-{SPAN}-01",  # the forbidden version
        f"00-{TRACE.upper()}-{SPAN}-01",  # upper case is invalid
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
    ],
)
def test_an_invalid_traceparent_is_ignored(value: str | None) -> None:
    assert TraceContext.from_traceparent(value) is None


def test_a_later_version_is_read_by_its_first_four_fields() -> None:
    assert TraceContext.from_traceparent(f"01-{TRACE}-{SPAN}-00-whatever") == TraceContext(
        TRACE, SPAN, False
    )


def test_the_no_op_tracer_makes_nothing() -> None:
    assert NO_TRACER.enabled is False
    with NO_TRACER.span("anything", attributes={"a": 1}) as span:
        span.set_attribute("b", 2)
        span.add_event("c")
        span.set_name("d")
        span.fail("e")
        assert span.context() is None
    assert NO_TRACER.current().context() is None


def test_trace_headers_replace_the_callers_and_keep_the_rest() -> None:
    context = InputContext(
        path="/",
        method="GET",
        headers={"traceparent": "old", "x-amzn-trace-id": "old", "tracestate": "k=v", "a": "1"},
        query_params={},
        body=b"",
        user_id=None,
        request_id="r",
        raw_headers=(("a", "1"), ("traceparent", "old"), ("tracestate", "k=v")),
    )
    trace = TraceContext(TRACE, SPAN, True)

    traced = with_trace_headers(context, trace)

    assert traced.headers == {
        "tracestate": "k=v",
        "a": "1",
        "traceparent": trace.traceparent,
        "x-amzn-trace-id": trace.amzn_trace_id,
    }
    assert traced.raw_headers == (
        ("a", "1"),
        ("tracestate", "k=v"),
        ("traceparent", trace.traceparent),
        ("x-amzn-trace-id", trace.amzn_trace_id),
    )


def _config(tmp_path: Path, text: str) -> TracingConfig:
    path = tmp_path / "lockgate.toml"
    path.write_text(text)
    return load_config(path)[0].tracing


def test_the_tracing_table_is_read(tmp_path: Path) -> None:
    assert _config(tmp_path, "") == TracingConfig()
    assert _config(
        tmp_path,
        '[tracing]\nenabled = true\nservice_name = "edge"\nexporter = "none"\n'
        'endpoint = "http://127.0.0.1:4318/v1/traces"\nsample_ratio = 0.25\n',
    ) == TracingConfig(True, "edge", "none", "http://127.0.0.1:4318/v1/traces", 0.25)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("sample_ratio = 1.5", "tracing.sample_ratio"),
        ('exporter = "zipkin"', "tracing.exporter"),
        ('endpoint = "http://user:secret@collector:4318"', "tracing.endpoint"),
        ('endpoint = "collector:4318"', "tracing.endpoint"),
        ('enabled = "yes"', "tracing.enabled"),
        ("sampling = 1", "tracing.sampling"),
    ],
)
def test_a_bad_tracing_value_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, f"[tracing]\n{text}\n")

    assert caught.value.fields["key"] == key
    assert "secret" not in caught.value.message


def test_a_custom_runtime_is_handed_the_invocations_trace() -> None:
    trace = TraceContext(TRACE, SPAN, True)
    invocation = WorkerInvocation("r", b"{}", 0, "arn:aws:lambda:eu-west-1:0:function:f")

    traced = dict(event_headers(invocation._replace(trace=trace)))
    untraced = dict(event_headers(invocation))

    assert traced[b"lambda-runtime-trace-id"] == trace.amzn_trace_id.encode()
    # Without one, a fresh unsampled id, as Lambda sends with every event.
    assert untraced[b"lambda-runtime-trace-id"].endswith(b";Sampled=0")
