"""``OpenTelemetryTracer``: the tracing port on OpenTelemetry, exporting through the SDK's
span processors (in batches, over OTLP/HTTP, to standard output, or nowhere). Imported only
when tracing is on.

The gateway's own spans are recorded here and handed to the SDK finished, as the SDK's
``ReadableSpan``: the SDK's live ``Span`` (locks, bounded attribute maps, a sampler call,
per-span processor hooks) cost about 50 µs each on the request path, these under 10. Each
is made current in OpenTelemetry's context too, so spans made with OpenTelemetry's API
while it is open (a workflow step's, an event handler's) are its children, and they go to
the same processor: the SDK ``TracerProvider`` set as the process's global one shares it.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from lockgate.gateways.tracing.ports import Attributes, ISpan, _NoSpan
from lockgate.models.trace import SpanKind, TraceContext, TracingConfig

__all__ = ["OpenTelemetrySpan", "OpenTelemetryTracer", "open_tracer"]

_KINDS = {
    SpanKind.INTERNAL: trace.SpanKind.INTERNAL,
    SpanKind.SERVER: trace.SpanKind.SERVER,
    SpanKind.CLIENT: trace.SpanKind.CLIENT,
    SpanKind.PRODUCER: trace.SpanKind.PRODUCER,
    SpanKind.CONSUMER: trace.SpanKind.CONSUMER,
}
_SAMPLED, _NOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)
_FLUSH_TIMEOUT_MS = 5000
_TRACE_ID_LIMIT = (1 << 64) - 1  # the low 64 bits decide a ratio, as the SDK's sampler does
_current: ContextVar[OpenTelemetrySpan | None] = ContextVar("lockgate_span", default=None)


def _lockgate_version() -> str:
    try:
        return version("lockgate")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0"


class OpenTelemetrySpan:
    """One of the gateway's spans, open while its ``with`` block runs; handed to the span
    processor, finished, when the block ends (if its trace is sampled)."""

    __slots__ = (
        "_attributes",
        "_context",
        "_events",
        "_handed",
        "_kind",
        "_name",
        "_otel_token",
        "_parent",
        "_start",
        "_status",
        "_token",
        "_tracer",
    )

    def __init__(  # noqa: PLR0917 - made by OpenTelemetryTracer.span alone
        self,
        tracer: OpenTelemetryTracer,
        name: str,
        kind: SpanKind,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: Attributes | None,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._kind = kind
        self._context = context
        self._parent = parent
        # The callers' attribute maps are fresh dicts: kept, not copied (the request path).
        self._attributes: dict[str, str | bool | int | float] = (
            attributes if type(attributes) is dict else dict(attributes or ())
        )
        self._events: list[Event] | None = None
        self._status = _UNSET
        self._start = time.time_ns()
        self._token: Token[OpenTelemetrySpan | None] | None = None
        self._otel_token: object = None
        self._handed: TraceContext | None = None

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        self._attributes[key] = value

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        if self._events is None:
            self._events = []
        self._events.append(Event(name, attributes, time.time_ns()))

    def set_name(self, name: str) -> None:
        self._name = name

    def fail(self, description: str) -> None:
        self._status = Status(StatusCode.ERROR, description)

    def context(self) -> TraceContext | None:
        if self._handed is None:  # asked for up to three times a request: made once
            found = self._context
            self._handed = TraceContext(
                f"{found.trace_id:032x}", f"{found.span_id:016x}", found.trace_flags.sampled
            )
        return self._handed

    def __enter__(self) -> OpenTelemetrySpan:
        self._token = _current.set(self)
        # Only runs, steps, resource acquisitions and deliveries run code that may make its
        # own spans (steps, event handlers, resource factories): OpenTelemetry's context (a
        # dict copied each time) is set for them alone, not on every request's path.
        if self._kind is SpanKind.INTERNAL or self._kind is SpanKind.CONSUMER:
            otel = trace.set_span_in_context(NonRecordingSpan(self._context))
            self._otel_token = otel_context.attach(otel)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Only the type: an exception's message may hold a secret.
        if exc_type is not None and exc_type is not GeneratorExit:
            self._status = Status(StatusCode.ERROR, exc_type.__name__)
        if self._otel_token is not None:
            otel_context.detach(self._otel_token)  # type: ignore[arg-type]
        if self._token is not None:
            _current.reset(self._token)
        if self._context.trace_flags.sampled:
            self._tracer.finished(self._readable())

    def _readable(self) -> ReadableSpan:
        tracer = self._tracer
        return ReadableSpan(
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=tracer.resource,
            attributes=self._attributes,
            events=self._events or (),
            kind=_KINDS[self._kind],
            status=self._status,
            start_time=self._start,
            end_time=time.time_ns(),
            instrumentation_scope=tracer.scope,
        )


class _ForeignSpan(_NoSpan):
    """A span the gateway did not make (a step's own, or a caller's remote one), when it
    is the current one: readable, never written (every writer is ``_NoSpan``'s no-op)."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def context(self) -> TraceContext | None:
        found = self._span.get_span_context()
        if not found.is_valid:
            return None
        return TraceContext(
            f"{found.trace_id:032x}", f"{found.span_id:016x}", found.trace_flags.sampled
        )


class OpenTelemetryTracer:
    """The gateway's spans, handed finished to an OpenTelemetry span processor.

    Args:
        processor: Where finished spans go (``open_tracer`` gives a batch processor and an
            exporter; tests a simple one and the SDK's in-memory exporter).
        resource: The spans' resource (``service.name`` ...).
        ratio: The share of new traces recorded; a parent's sampled flag is followed
            (``parent_based``) or not.
        parent_based: Whether a parent's sampled flag decides (the SDK's default).
    """

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource | None = None,
        *,
        ratio: float = 1.0,
        parent_based: bool = True,
    ) -> None:
        self._processor = processor
        self.resource = resource or Resource.create({SERVICE_NAME: "lockgate"})
        self.scope = InstrumentationScope("lockgate", _lockgate_version())
        self._bound = round(ratio * (_TRACE_ID_LIMIT + 1))
        self._parent_based = parent_based
        self._random = random.Random()  # noqa: S311 - ids, not secrets (the SDK's own way)

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
    ) -> OpenTelemetrySpan:
        parent_context = self._parent(headers, parent)
        span_id = self._random.getrandbits(64) or 1
        if parent_context is None:
            trace_id = self._random.getrandbits(128) or 1
            sampled = (trace_id & _TRACE_ID_LIMIT) < self._bound
        else:
            trace_id = parent_context.trace_id
            sampled = (
                parent_context.trace_flags.sampled
                if self._parent_based
                else (trace_id & _TRACE_ID_LIMIT) < self._bound
            )
        context = SpanContext(
            trace_id, span_id, is_remote=False, trace_flags=_SAMPLED if sampled else _NOT_SAMPLED
        )
        return OpenTelemetrySpan(self, name, kind, context, parent_context, attributes)

    @staticmethod
    def _parent(
        headers: Mapping[str, str] | None, parent: TraceContext | None
    ) -> SpanContext | None:
        """A request's: the caller's ``traceparent``, if any (else a new trace); otherwise
        the current span, else ``parent``."""
        if headers is not None:
            return _remote(TraceContext.from_traceparent(headers.get("traceparent")))
        ours = _current.get()
        if ours is not None:
            return ours._context
        found = trace.get_current_span().get_span_context()
        return found if found.is_valid else _remote(parent)

    def current(self) -> ISpan:
        ours = _current.get()
        return ours if ours is not None else _ForeignSpan(trace.get_current_span())

    def finished(self, span: ReadableSpan) -> None:
        """Hand a finished span to the processor (a batch queue: no I/O here)."""
        self._processor.on_end(span)

    async def flush(self) -> None:
        # The SDK flushes synchronously, from the calling thread: off the event loop.
        await asyncio.to_thread(self._processor.force_flush, _FLUSH_TIMEOUT_MS)


def _remote(parent: TraceContext | None) -> SpanContext | None:
    if parent is None:
        return None
    flags = _SAMPLED if parent.sampled else _NOT_SAMPLED
    return SpanContext(
        int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True, trace_flags=flags
    )


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


_SAMPLERS = {  # OTEL_TRACES_SAMPLER's values: (ratio, or None for the argument; parent-based)
    "always_on": (1.0, False),
    "always_off": (0.0, False),
    "traceidratio": (None, False),
    "parentbased_always_on": (1.0, True),
    "parentbased_always_off": (0.0, True),
    "parentbased_traceidratio": (None, True),
}


def _sampling(config: TracingConfig) -> tuple[float, bool]:
    """(ratio, parent-based): the table's ``sample_ratio``, else ``OTEL_TRACES_SAMPLER`` and
    ``OTEL_TRACES_SAMPLER_ARG`` as the SDK reads them (by default parent-based, always on)."""
    if config.sample_ratio is not None:
        return config.sample_ratio, True
    name = os.environ.get("OTEL_TRACES_SAMPLER", "parentbased_always_on").strip().lower()
    ratio, parent_based = _SAMPLERS.get(name, (1.0, True))
    if ratio is None:
        try:
            ratio = min(max(float(os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")), 0.0), 1.0)
        except ValueError:
            ratio = 1.0
    return ratio, parent_based


def open_tracer(config: TracingConfig) -> OpenTelemetryTracer:
    """The gateway's tracer for ``config``: its exporter behind a batch processor (spans
    leave in batches, from the processor's thread, never on a request's path). An SDK
    provider on the same processor becomes the process's global one unless the program set
    its own, so code run in the gateway that makes its own spans joins the gateway's
    traces and export."""
    service = config.service_name or os.environ.get("OTEL_SERVICE_NAME") or "lockgate"
    resource = Resource.create({SERVICE_NAME: service})
    processor = BatchSpanProcessor(_exporter(config))
    ratio, parent_based = _sampling(config)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        root = TraceIdRatioBased(ratio)
        provider = TracerProvider(
            sampler=ParentBased(root) if parent_based else root, resource=resource
        )
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
    return OpenTelemetryTracer(processor, resource, ratio=ratio, parent_based=parent_based)
