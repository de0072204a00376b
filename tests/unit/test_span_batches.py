"""The span export queue: gateway spans queued as records and exported as ``ReadableSpan``s
in batches, SDK spans beside them, a full queue dropping and saying so, an exporter's
failure survived, and records that keep nothing of the request alive."""

from __future__ import annotations

import gc
import json
import logging
import threading
import weakref
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lockgate.gateways.tracing.batches import SpanBatches
from lockgate.gateways.tracing.otel import OpenTelemetryTracer, batch_limits, lockgate_scope
from lockgate.gateways.tracing.records import SpanRecord

RESOURCE = Resource.create({"service.name": "batches-test"})
BATCH_VARIABLES = (
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
)


def record(number: int, *, failure: str | None = None) -> SpanRecord:
    events = (("worker acquired", {"faas.coldstart": False}, 5),)
    return ("span", 2, 7, number, (3, True), {"n": number}, events, failure, 1, 2)


def batches(exporter: SpanExporter, **limits: int) -> SpanBatches:
    return SpanBatches(exporter, RESOURCE, lockgate_scope(), **limits)


def test_records_are_exported_as_readable_spans_in_order_and_in_batches() -> None:
    exported: list[list[ReadableSpan]] = []

    class Recording(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            exported.append(list(spans))
            return SpanExportResult.SUCCESS

    queue = batches(Recording(), batch=4, delay_s=60)
    for number in range(1, 11):
        queue.add(record(number, failure="ValueError" if number == 10 else None))
    queue.force_flush()

    assert all(len(batch) <= 4 for batch in exported)
    spans = [span for batch in exported for span in batch]
    assert [span.context.span_id for span in spans if span.context] == list(range(1, 11))
    first, last = spans[0], spans[-1]
    assert first.name == "span"
    assert first.kind is SpanKind.CLIENT
    assert first.context is not None
    assert first.context.trace_id == 7
    assert first.context.trace_flags.sampled
    assert first.parent is not None
    assert (first.parent.span_id, first.parent.is_remote) == (3, True)
    assert dict(first.attributes or {}) == {"n": 1}
    assert [(event.name, event.timestamp) for event in first.events] == [("worker acquired", 5)]
    assert (first.start_time, first.end_time) == (1, 2)
    assert first.resource is RESOURCE
    assert first.instrumentation_scope is not None
    assert first.instrumentation_scope.name == "lockgate"
    assert first.status.status_code is StatusCode.UNSET
    assert last.status.status_code is StatusCode.ERROR
    assert last.status.description == "ValueError"
    # The console exporter's form.
    assert json.loads(last.to_json())["status"]["description"] == "ValueError"
    queue.shutdown()


def test_a_full_batch_wakes_the_thread_without_waiting_for_the_delay() -> None:
    arrived = threading.Event()

    class Signalling(InMemorySpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            arrived.set()
            return super().export(spans)

    queue = batches(Signalling(), batch=3, delay_s=3600)
    for number in range(3):
        queue.add(record(number + 1))
    assert arrived.wait(10), "a full batch stayed queued until the delay"
    queue.shutdown()


def test_gateway_spans_queue_themselves_as_add_does_waking_and_dropping_alike(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A gateway span appends its own record (``add``, inline): the same wake-up at a
    full batch, the same newest-dropped-and-counted at a full queue."""
    arrived = threading.Event()

    class Signalling(InMemorySpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            arrived.set()
            return super().export(spans)

    signalling = Signalling()
    woken = batches(signalling, batch=2, delay_s=3600)
    tracer = OpenTelemetryTracer(woken, RESOURCE)
    for name in ("first", "second"):
        with tracer.span(name):
            pass
    assert arrived.wait(10), "a full batch of gateway spans stayed queued until the delay"
    woken.shutdown()
    assert [span.name for span in signalling.get_finished_spans()] == ["first", "second"]

    exporter = InMemorySpanExporter()
    full = batches(exporter, max_queue=3, batch=100, delay_s=3600)
    tracer = OpenTelemetryTracer(full, RESOURCE)
    for number in range(1, 6):
        with tracer.span(f"span {number}"):
            pass
    with caplog.at_level(logging.WARNING, logger="lockgate.tracing"):
        full.force_flush()
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == ["span 1", "span 2", "span 3"]
    assert "2 spans dropped" in caplog.text
    full.shutdown()


def test_sampled_sdk_spans_join_the_same_queue_and_unsampled_ones_do_not() -> None:
    exporter = InMemorySpanExporter()
    queue = batches(exporter, delay_s=60)
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(queue)
    with provider.get_tracer("user").start_as_current_span("own"):
        pass
    unsampled = ReadableSpan("unsampled")  # no context: nothing to export
    queue.on_end(unsampled)
    queue.add(record(1))
    queue.force_flush()

    assert [span.name for span in exporter.get_finished_spans()] == ["own", "span"]
    provider.shutdown()


def test_a_full_queue_drops_the_newest_and_says_how_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = InMemorySpanExporter()
    queue = batches(exporter, max_queue=5, batch=100, delay_s=3600)
    for number in range(1, 9):
        queue.add(record(number))
    with caplog.at_level(logging.WARNING, logger="lockgate.tracing"):
        queue.force_flush()

    kept = [span.context.span_id for span in exporter.get_finished_spans() if span.context]
    assert kept == [1, 2, 3, 4, 5]
    assert "3 spans dropped" in caplog.text
    queue.shutdown()


def test_an_exporter_that_raises_is_logged_and_later_batches_still_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    class FailingOnce(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            calls.append(len(spans))
            if len(calls) == 1:
                raise ConnectionError("collector down")
            return SpanExportResult.SUCCESS

    queue = batches(FailingOnce(), batch=2, delay_s=3600)
    with caplog.at_level(logging.ERROR, logger="lockgate.tracing"):
        for number in range(4):
            queue.add(record(number + 1))
        queue.force_flush()

    assert sum(calls) == 4
    assert "exporting 2 spans failed" in caplog.text
    queue.shutdown()


def test_shutdown_exports_what_is_left_and_stops_the_thread() -> None:
    exporter = InMemorySpanExporter()
    queue = batches(exporter, delay_s=3600)
    queue.add(record(1))
    queue.shutdown()
    queue.shutdown()  # twice: a no-op
    assert len(exporter.get_finished_spans()) == 1


def test_a_queued_gateway_span_is_a_record_of_plain_values() -> None:
    exporter = InMemorySpanExporter()
    queue = batches(exporter, delay_s=3600)
    tracer = OpenTelemetryTracer(queue, RESOURCE)
    with tracer.span("GET /x", attributes={"http.request.method": "GET"}) as span:
        span.add_event("worker acquired", {"faas.coldstart": True})

    (queued,) = list(queue.queue)
    plain = (str, int, float, bool, type(None), dict, tuple, list)
    assert type(queued) is tuple
    assert all(isinstance(value, plain) for value in queued)  # no span, token or context
    queue.shutdown()
    (exported,) = exporter.get_finished_spans()
    assert exported.name == "GET /x"
    assert [event.name for event in exported.events] == ["worker acquired"]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, (2048, 512, 5.0)),
        (
            {
                "OTEL_BSP_MAX_QUEUE_SIZE": "100",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "500",
                "OTEL_BSP_SCHEDULE_DELAY": "250",
            },
            (100, 100, 0.25),
        ),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "many", "OTEL_BSP_SCHEDULE_DELAY": "-1"}, (2048, 512, 5.0)),
    ],
)
def test_the_sdks_batch_variables_set_the_queue(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: tuple[int, int, float]
) -> None:
    for name in (
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BSP_SCHEDULE_DELAY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert batch_limits() == expected


def test_a_queue_that_is_shut_down_and_dropped_is_not_kept_by_its_fork_hook() -> None:
    queue = batches(InMemorySpanExporter(), delay_s=3600)
    queue.shutdown()
    gone = weakref.ref(queue)
    del queue
    gc.collect()
    assert gone() is None
