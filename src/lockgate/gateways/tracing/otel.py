"""``OpenTelemetryTracer``: the tracing port on the OpenTelemetry SDK, exporting in batches
over OTLP/HTTP (or to standard output, or nowhere). Imported only when tracing is on."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lockgate.gateways.tracing.ports import Attributes, ISpan
from lockgate.models.trace import SpanKind, TraceContext, TracingConfig

__all__ = ["OpenTelemetrySpan", "OpenTelemetryTracer", "tracer_provider"]

_KINDS = {
    SpanKind.INTERNAL: trace.SpanKind.INTERNAL,
    SpanKind.SERVER: trace.SpanKind.SERVER,
    SpanKind.CLIENT: trace.SpanKind.CLIENT,
    SpanKind.PRODUCER: trace.SpanKind.PRODUCER,
    SpanKind.CONSUMER: trace.SpanKind.CONSUMER,
}
_W3C = TraceContextTextMapPropagator()
_FLUSH_TIMEOUT_MS = 5000


def _lockgate_version() -> str:
    try:
        return version("lockgate")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0"


class OpenTelemetrySpan:
    """An OpenTelemetry span behind the ``ISpan`` port."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        self._span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        self._span.add_event(name, attributes)

    def set_name(self, name: str) -> None:
        self._span.update_name(name)

    def fail(self, description: str) -> None:
        self._span.set_status(Status(StatusCode.ERROR, description))

    def context(self) -> TraceContext | None:
        found = self._span.get_span_context()
        if not found.is_valid:
            return None
        return TraceContext(
            f"{found.trace_id:032x}", f"{found.span_id:016x}", found.trace_flags.sampled
        )


class _Scope:
    """A started span made current until the ``with`` block ends (cheaper than the SDK's
    generator-based ``start_as_current_span``, and it never records an exception's message,
    which may hold a secret)."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._token: object = None

    def __enter__(self) -> ISpan:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return OpenTelemetrySpan(self._span)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and exc_type is not GeneratorExit:
            self._span.set_status(Status(StatusCode.ERROR, exc_type.__name__))
        otel_context.detach(self._token)  # type: ignore[arg-type]
        self._span.end()


class OpenTelemetryTracer:
    """Spans on an OpenTelemetry ``TracerProvider``.

    Args:
        provider: Where spans go (``tracer_provider`` makes the gateway's; tests pass one
            with an in-memory exporter).
    """

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("lockgate", _lockgate_version())

    @property
    def enabled(self) -> bool:
        return True

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        headers: Mapping[str, str] | None = None,
        parent: TraceContext | None = None,
    ) -> _Scope:
        parent_context = None
        if parent is not None:
            parent_context = _remote(parent)
        elif headers is not None and "traceparent" in headers:
            parent_context = _W3C.extract(headers)
        started = self._tracer.start_span(
            name, context=parent_context, kind=_KINDS[kind], attributes=attributes
        )
        return _Scope(started)

    def current(self) -> ISpan:
        return OpenTelemetrySpan(trace.get_current_span())

    async def flush(self) -> None:
        # The SDK flushes synchronously, from the calling thread: off the event loop.
        await asyncio.to_thread(self._provider.force_flush, _FLUSH_TIMEOUT_MS)


def _remote(parent: TraceContext) -> otel_context.Context:
    flags = TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT)
    span_context = SpanContext(
        int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True, trace_flags=flags
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


class _DroppingExporter(SpanExporter):
    """``exporter = "none"``: spans are made, batched and dropped, so what tracing costs
    can be measured (and wired up) without a collector."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:  # noqa: ARG002
        return SpanExportResult.SUCCESS


def _exporter(config: TracingConfig) -> SpanExporter:
    if config.exporter == "console":
        return ConsoleSpanExporter()
    if config.exporter == "none":
        return _DroppingExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    # endpoint None: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and headers
    # (a collector's token belongs there, in the environment, never in the file).
    return OTLPSpanExporter(endpoint=config.endpoint)


def tracer_provider(config: TracingConfig) -> TracerProvider:
    """The gateway's provider for ``config``: its exporter behind a batch processor (spans
    leave in batches, from the processor's thread, never on a request's path). It becomes
    the process's global provider unless the program already set one, so code run in the
    gateway (workflow steps, module event handlers) that makes its own spans joins the
    gateway's traces."""
    service = config.service_name or os.environ.get("OTEL_SERVICE_NAME") or "lockgate"
    sampler = None  # the SDK's, from OTEL_TRACES_SAMPLER: parent-based, always on by default
    if config.sample_ratio is not None:
        sampler = ParentBased(TraceIdRatioBased(config.sample_ratio))
    provider = TracerProvider(
        sampler=sampler,
        resource=Resource.create({SERVICE_NAME: service}),
    )
    provider.add_span_processor(BatchSpanProcessor(_exporter(config)))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    return provider
