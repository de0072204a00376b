"""``OpenTelemetryTracer``: the tracing port on OpenTelemetry, exporting through the SDK's
exporters (in batches, over OTLP/HTTP, to standard output, or nowhere). Imported only when
tracing is on.

The gateway's own spans are recorded here, not by the SDK's live ``Span`` (locks, bounded
attribute maps, a sampler call, per-span processor hooks: about 50 µs each on the request
path): a span is a few fields while it is open, and a ``SpanRecord`` in ``SpanBatches``'
queue once it ends, made into the SDK's ``ReadableSpan`` in the export thread. Each is made
current in OpenTelemetry's context too where code may run inside it, so spans made with
OpenTelemetry's API while it is open (a workflow step's, an event handler's) are its
children, and they go to the same queue: the SDK ``TracerProvider`` set as the process's
global one shares it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from importlib.metadata import PackageNotFoundError, version
from time import time_ns
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.environment_variables import (
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from lockgate.gateways.tracing.batches import SpanBatches
from lockgate.gateways.tracing.ports import Attributes, ISpan, _NoSpan
from lockgate.gateways.tracing.records import SpanRecord, exported
from lockgate.models.trace import SpanKind, TraceContext, TracingConfig, make_trace_context

__all__ = ["OpenTelemetrySpan", "OpenTelemetryTracer", "open_tracer"]

_SAMPLED, _NOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)
_FLUSH_TIMEOUT_MS = 5000
_TRACE_ID_LIMIT = (1 << 64) - 1  # the low 64 bits decide a ratio, as the SDK's sampler does
# trace id, span id, remote, sampled, and the trace id in hex when it is known already
_Parent = tuple[int, int, bool, bool, str | None]
_current: ContextVar[OpenTelemetrySpan | None] = ContextVar("lockgate_span", default=None)
_new_span = object.__new__
_RUNS_CODE = frozenset({SpanKind.INTERNAL, SpanKind.CONSUMER})


def lockgate_scope() -> InstrumentationScope:
    """The gateway's spans' instrumentation scope: ``lockgate`` and its version."""
    try:
        return InstrumentationScope("lockgate", version("lockgate"))
    except PackageNotFoundError:  # run from a source tree that was never installed
        return InstrumentationScope("lockgate", "0")


class OpenTelemetrySpan:
    """One of the gateway's spans, open while its ``with`` block runs; queued for export as
    a ``SpanRecord`` when the block ends (if its trace is sampled)."""

    __slots__ = (
        "_attributes",
        "_events",
        "_failure",
        "_handed",
        "_kind",
        "_name",
        "_otel_token",
        "_parent",
        "_sampled",
        "_span_id",
        "_start",
        "_token",
        "_trace_hex",
        "_trace_id",
        "_tracer",
    )

    # No ``__init__``: ``OpenTelemetryTracer.span`` sets every field of a new span itself,
    # a Python frame fewer for each of a traced request's two spans.
    _tracer: OpenTelemetryTracer
    _name: str
    _kind: SpanKind
    _trace_id: int
    _span_id: int
    _sampled: bool
    _parent: tuple[int, bool] | None  # the parent's span id and whether it is remote
    _attributes: dict[str, str | bool | int | float]
    _events: list[tuple[str, Attributes | None, int]] | None
    _failure: str | None
    _start: int
    _token: Token[OpenTelemetrySpan | None] | None
    _otel_token: object
    _handed: TraceContext | None
    _trace_hex: str | None  # a trace's spans share it: formatted once a trace

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        self._attributes[key] = value

    def set_attributes(self, attributes: Attributes) -> None:
        self._attributes.update(attributes)

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        if self._events is None:
            self._events = []
        self._events.append((name, attributes, time_ns()))

    def set_name(self, name: str) -> None:
        self._name = name

    def fail(self, description: str) -> None:
        self._failure = description

    def context(self) -> TraceContext | None:
        handed = self._handed
        if handed is None:  # asked for up to three times a request: made once
            trace_hex = self._trace_hex
            if trace_hex is None:
                trace_hex = self._trace_hex = self._trace_id.to_bytes(16).hex()
            handed = self._handed = make_trace_context(
                (trace_hex, self._span_id.to_bytes(8).hex(), self._sampled)
            )
        return handed

    def __enter__(self) -> OpenTelemetrySpan:
        self._token = _current.set(self)
        # Only runs, steps, resource acquisitions and deliveries run code that may make its
        # own spans (steps, event handlers, resource factories): OpenTelemetry's context (a
        # dict copied each time) is set for them alone, not on every request's path.
        if self._kind in _RUNS_CODE:
            flags = _SAMPLED if self._sampled else _NOT_SAMPLED
            own = SpanContext(self._trace_id, self._span_id, is_remote=False, trace_flags=flags)
            self._otel_token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(own)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Only the type: an exception's message may hold a secret.
        if exc_type is not None and exc_type is not GeneratorExit:
            self._failure = exc_type.__name__
        if self._otel_token is not None:
            otel_context.detach(self._otel_token)  # type: ignore[arg-type]
        _current.reset(self._token)  # type: ignore[arg-type] # set by __enter__
        if not self._sampled:
            return
        record: SpanRecord = (
            self._name,
            self._kind,
            self._trace_id,
            self._span_id,
            self._parent,
            self._attributes,
            self._events or (),
            self._failure,
            self._start,
            time_ns(),
        )
        batches = self._tracer.batches
        if batches is None:  # another processor (a test's): handed the SDK's span
            self._tracer.hand(record)
            return
        # ``SpanBatches.add``, inline: a frame fewer for each of a traced request's spans.
        queue = batches.queue
        if len(queue) >= batches.max_queue:
            batches.dropped += 1
            return
        queue.append(record)
        if len(queue) == batches.batch:
            batches.wake.set()


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
        return make_trace_context(
            (
                found.trace_id.to_bytes(16).hex(),
                found.span_id.to_bytes(8).hex(),
                found.trace_flags.sampled,
            )
        )


class OpenTelemetryTracer:
    """The gateway's spans, handed finished to an OpenTelemetry span processor.

    Args:
        processor: Where finished spans go (``open_tracer`` gives a batch processor and an
            exporter; tests a simple one and the SDK's in-memory exporter).
        resource: The spans' resource (``service.name`` ...).
        scope: Their instrumentation scope (by default ``lockgate`` and its version).
        ratio: The share of new traces recorded; a parent's sampled flag is followed
            (``parent_based``) or not.
        parent_based: Whether a parent's sampled flag decides (the SDK's default).
    """

    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource | None = None,
        *,
        scope: InstrumentationScope | None = None,
        ratio: float = 1.0,
        parent_based: bool = True,
    ) -> None:
        self._processor = processor
        self.resource = resource or Resource.create({SERVICE_NAME: "lockgate"})
        self.scope = scope or lockgate_scope()
        # A queue of ours takes the gateway's spans with an append, and builds what its
        # exporter reads in its own thread; any other processor (a test's) gets them built.
        self.batches = processor if isinstance(processor, SpanBatches) else None
        """Our queue, which the spans append to themselves; None: another processor,
        handed each span by ``hand`` (as the SDK's span)."""
        self._bound = round(ratio * (_TRACE_ID_LIMIT + 1))
        self._parent_based = parent_based
        self._random = random.Random()  # noqa: S311 - ids, not secrets (the SDK's own way)

    enabled = True  # an attribute, not a property: read on every traced request's path

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        headers: Mapping[str, str] | None = None,
        parent: TraceContext | None = None,
    ) -> OpenTelemetrySpan:
        span: OpenTelemetrySpan = _new_span(OpenTelemetrySpan)
        if headers is not None:  # a request's: the caller's traceparent, else a new trace
            value = headers.get("traceparent")
            found = _remote(TraceContext.from_traceparent(value)) if value else None
        elif (ours := _current.get()) is not None:  # the usual: a child of our current span
            found = ours._trace_id, ours._span_id, False, ours._sampled, ours._trace_hex
        else:
            found = _outside_parent(parent)
        if found is None:
            trace_id = span._trace_id = self._random.getrandbits(128) or 1
            span._sampled = (trace_id & _TRACE_ID_LIMIT) < self._bound
            span._parent = span._trace_hex = None
        else:
            trace_id, parent_id, remote, parent_sampled, span._trace_hex = found
            span._trace_id = trace_id
            span._sampled = (
                parent_sampled if self._parent_based else (trace_id & _TRACE_ID_LIMIT) < self._bound
            )
            span._parent = (parent_id, remote)
        span._span_id = self._random.getrandbits(64) or 1
        span._tracer = self
        span._name = name
        span._kind = kind
        # The callers' attribute maps are fresh dicts: kept, not copied (the request path).
        span._attributes = attributes if type(attributes) is dict else dict(attributes or ())
        span._events = span._failure = span._token = span._otel_token = span._handed = None
        span._start = time_ns()
        return span

    def current(self) -> ISpan:
        ours = _current.get()
        return ours if ours is not None else _ForeignSpan(trace.get_current_span())

    def hand(self, record: SpanRecord) -> None:
        """A processor other than ours (a test's) gets each span as the SDK hands it."""
        self._processor.on_end(exported((self.resource, self.scope), record))

    async def flush(self) -> None:
        # The SDK flushes synchronously, from the calling thread: off the event loop.
        await asyncio.to_thread(self._processor.force_flush, _FLUSH_TIMEOUT_MS)


def _outside_parent(parent: TraceContext | None) -> _Parent | None:
    """The parent of a span made while none of the gateway's is current: OpenTelemetry's
    current span (a step's own, a handler's), else ``parent``."""
    found = trace.get_current_span().get_span_context()
    if found.is_valid:
        return found.trace_id, found.span_id, found.is_remote, found.trace_flags.sampled, None
    return _remote(parent)


def _remote(parent: TraceContext | None) -> _Parent | None:
    if parent is None:
        return None
    trace_hex, span_hex, sampled = parent
    return int(trace_hex, 16), int(span_hex, 16), True, sampled, trace_hex


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


_BATCH_VARIABLES = (  # the SDK's own names and defaults
    (OTEL_BSP_MAX_QUEUE_SIZE, 2048),
    (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512),
    (OTEL_BSP_SCHEDULE_DELAY, 5000),
)


def batch_limits() -> tuple[int, int, float]:
    """(queue size, batch size, delay in seconds) from ``OTEL_BSP_MAX_QUEUE_SIZE``,
    ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` and ``OTEL_BSP_SCHEDULE_DELAY`` (ms), as the SDK's
    batch processor reads them; a value that is not a positive whole number is the
    default, and a batch is never larger than the queue."""
    values = []
    for name, default in _BATCH_VARIABLES:
        try:
            value = int(os.environ.get(name, default))
        except ValueError:
            value = default
        values.append(value if value > 0 else default)
    queue, batch, delay_ms = values
    return queue, min(batch, queue), delay_ms / 1000


def open_tracer(config: TracingConfig) -> OpenTelemetryTracer:
    """The gateway's tracer for ``config``: its exporter behind a batch processor (spans
    leave in batches, from the processor's thread, never on a request's path). An SDK
    provider on the same processor becomes the process's global one unless the program set
    its own, so code run in the gateway that makes its own spans joins the gateway's
    traces and export."""
    service = config.service_name or os.environ.get("OTEL_SERVICE_NAME") or "lockgate"
    resource = Resource.create({SERVICE_NAME: service})
    scope = lockgate_scope()
    max_queue, batch, delay_s = batch_limits()
    processor = SpanBatches(
        _exporter(config), resource, scope, max_queue=max_queue, batch=batch, delay_s=delay_s
    )
    ratio, parent_based = _sampling(config)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        root = TraceIdRatioBased(ratio)
        provider = TracerProvider(
            sampler=ParentBased(root) if parent_based else root, resource=resource
        )
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
    return OpenTelemetryTracer(
        processor, resource, scope=scope, ratio=ratio, parent_based=parent_based
    )
