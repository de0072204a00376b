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
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from importlib.metadata import PackageNotFoundError, version
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
from lockgate.gateways.tracing.records import ExportedSpan, SpanRecord
from lockgate.models.trace import SpanKind, TraceContext, TracingConfig

__all__ = ["OpenTelemetrySpan", "OpenTelemetryTracer", "open_tracer"]

_SAMPLED, _NOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)
_FLUSH_TIMEOUT_MS = 5000
_TRACE_ID_LIMIT = (1 << 64) - 1  # the low 64 bits decide a ratio, as the SDK's sampler does
_Parent = tuple[int, int, bool, bool]  # trace id, span id, remote, sampled
_current: ContextVar[OpenTelemetrySpan | None] = ContextVar("lockgate_span", default=None)


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
        "_trace_id",
        "_tracer",
    )

    def __init__(  # noqa: PLR0917 - made by OpenTelemetryTracer.span alone
        self,
        tracer: OpenTelemetryTracer,
        name: str,
        kind: SpanKind,
        trace_id: int,
        span_id: int,
        sampled: bool,
        parent: tuple[int, bool] | None,
        attributes: Attributes | None,
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._kind = kind
        self._trace_id = trace_id
        self._span_id = span_id
        self._sampled = sampled
        self._parent = parent
        # The callers' attribute maps are fresh dicts: kept, not copied (the request path).
        self._attributes: dict[str, str | bool | int | float] = (
            attributes if type(attributes) is dict else dict(attributes or ())
        )
        self._events: list[tuple[str, Attributes | None, int]] | None = None
        self._failure: str | None = None
        self._start = time.time_ns()
        self._token: Token[OpenTelemetrySpan | None] | None = None
        self._otel_token: object = None
        self._handed: TraceContext | None = None

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        self._attributes[key] = value

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        if self._events is None:
            self._events = []
        self._events.append((name, attributes, time.time_ns()))

    def set_name(self, name: str) -> None:
        self._name = name

    def fail(self, description: str) -> None:
        self._failure = description

    def context(self) -> TraceContext | None:
        if self._handed is None:  # asked for up to three times a request: made once
            self._handed = TraceContext(
                f"{self._trace_id:032x}", f"{self._span_id:016x}", self._sampled
            )
        return self._handed

    def __enter__(self) -> OpenTelemetrySpan:
        self._token = _current.set(self)
        # Only runs, steps, resource acquisitions and deliveries run code that may make its
        # own spans (steps, event handlers, resource factories): OpenTelemetry's context (a
        # dict copied each time) is set for them alone, not on every request's path.
        if self._kind is SpanKind.INTERNAL or self._kind is SpanKind.CONSUMER:
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
        if self._token is not None:
            _current.reset(self._token)
        if self._sampled:
            self._tracer.hand(
                (
                    self._name,
                    self._kind,
                    self._trace_id,
                    self._span_id,
                    self._parent,
                    self._attributes,
                    tuple(self._events) if self._events else (),
                    self._failure,
                    self._start,
                    time.time_ns(),
                )
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
        self.hand: Callable[[SpanRecord], None] = (
            processor.add if isinstance(processor, SpanBatches) else self._readable
        )
        """Hands a finished span to the processor (a batch queue: no I/O here)."""
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
        if headers is not None:  # a request's: the caller's traceparent, else a new trace
            value = headers.get("traceparent")
            found = _remote(TraceContext.from_traceparent(value)) if value else None
        else:
            found = self._parent(parent)
        span_id = self._random.getrandbits(64) or 1
        if found is None:
            trace_id = self._random.getrandbits(128) or 1
            sampled = (trace_id & _TRACE_ID_LIMIT) < self._bound
            return OpenTelemetrySpan(self, name, kind, trace_id, span_id, sampled, None, attributes)
        trace_id, parent_id, remote, parent_sampled = found
        sampled = (
            parent_sampled if self._parent_based else (trace_id & _TRACE_ID_LIMIT) < self._bound
        )
        up = (parent_id, remote)
        return OpenTelemetrySpan(self, name, kind, trace_id, span_id, sampled, up, attributes)

    @staticmethod
    def _parent(parent: TraceContext | None) -> _Parent | None:
        """Any span but a request's: the current span, else ``parent``."""
        ours = _current.get()
        if ours is not None:
            return ours._trace_id, ours._span_id, False, ours._sampled
        found = trace.get_current_span().get_span_context()
        if found.is_valid:
            return found.trace_id, found.span_id, found.is_remote, found.trace_flags.sampled
        return _remote(parent)

    def current(self) -> ISpan:
        ours = _current.get()
        return ours if ours is not None else _ForeignSpan(trace.get_current_span())

    def _readable(self, record: SpanRecord) -> None:
        """A processor other than ours (a test's) gets each span as the SDK hands it."""
        self._processor.on_end(ExportedSpan(self.resource, self.scope, record))

    async def flush(self) -> None:
        # The SDK flushes synchronously, from the calling thread: off the event loop.
        await asyncio.to_thread(self._processor.force_flush, _FLUSH_TIMEOUT_MS)


def _remote(parent: TraceContext | None) -> _Parent | None:
    if parent is None:
        return None
    return int(parent.trace_id, 16), int(parent.span_id, 16), True, parent.sampled


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
