"""What a finished gateway span leaves in the export queue, and the SDK ``ReadableSpan`` an
exporter is handed for it.

A finished span waits in the queue as a plain tuple of numbers, strings and its attribute
map: nothing of the request it measured (its context variables' tokens, its span objects)
stays alive for a batch's time. The ``ReadableSpan`` is built in the export thread, a batch
at a time, and builds its ``SpanContext``, parent and events only when the exporter reads
them: on the request's path, a span costs its record and an append.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

__all__ = ["ExportedSpan", "SpanOrigin", "SpanRecord", "exported", "new_exported_span"]

Scalar = str | bool | int | float

SpanRecord = tuple[
    str,  # name
    int,  # kind: OpenTelemetry's SpanKind's value (INTERNAL 0 ... CONSUMER 4), as ours
    int,  # trace id
    int,  # span id
    "tuple[int, bool] | None",  # parent: its span id and whether it is remote, or none
    dict[str, Scalar],  # attributes
    # events (name, attributes, ns), in the list the span kept them in, or () for none
    "Sequence[tuple[str, Mapping[str, Scalar] | None, int]]",
    "str | None",  # the error's description, or None when the span did not fail
    int,  # start, ns since the epoch
    int,  # end
]
"""A finished, sampled gateway span (only sampled spans are exported)."""

_KINDS = tuple(trace.SpanKind)  # by value: INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


SpanOrigin = tuple[Resource, InstrumentationScope]
"""What every span of one tracer shares: its resource and instrumentation scope."""


class ExportedSpan(ReadableSpan):
    """A ``SpanRecord`` as an exporter reads a span: only the public face of
    ``ReadableSpan`` (every property an exporter uses), read from the record.

    Made by ``exported(origin, record)``; ``SpanBatches`` sets the two fields itself, in
    its export loop (no ``__init__`` frame for each of thousands of spans a second).
    ``ReadableSpan.__init__`` is never called: its fields are not read.
    """

    __slots__ = ("_origin", "_record")

    _origin: SpanOrigin
    _record: SpanRecord

    @property
    def name(self) -> str:
        return self._record[0]

    @property
    def kind(self) -> trace.SpanKind:
        return _KINDS[self._record[1]]

    def get_span_context(self) -> SpanContext:
        record = self._record
        return SpanContext(record[2], record[3], is_remote=False, trace_flags=_SAMPLED)

    @property
    def context(self) -> SpanContext:
        return self.get_span_context()

    @property
    def parent(self) -> SpanContext | None:
        parent = self._record[4]
        if parent is None:
            return None
        span_id, remote = parent
        return SpanContext(self._record[2], span_id, is_remote=remote, trace_flags=_SAMPLED)

    @property
    def attributes(self) -> Mapping[str, Scalar]:
        return MappingProxyType(self._record[5])

    @property
    def events(self) -> Sequence[Event]:
        return tuple(Event(name, attributes, at) for name, attributes, at in self._record[6])

    @property
    def links(self) -> Sequence[trace.Link]:
        return ()

    @property
    def status(self) -> Status:
        description = self._record[7]
        return _UNSET if description is None else Status(StatusCode.ERROR, description)

    @property
    def start_time(self) -> int:
        return self._record[8]

    @property
    def end_time(self) -> int:
        return self._record[9]

    @property
    def dropped_attributes(self) -> int:
        return 0

    @property
    def dropped_events(self) -> int:
        return 0

    @property
    def dropped_links(self) -> int:
        return 0

    @property
    def resource(self) -> Resource:
        return self._origin[0]

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        return self._origin[1]

    def to_json(self, indent: int | None = 4) -> str:
        """The console exporter's form: a plain ``ReadableSpan``'s, built now."""
        plain = ReadableSpan(
            name=self.name,
            context=self.context,
            parent=self.parent,
            resource=self.resource,
            attributes=self.attributes,
            events=self.events,
            kind=self.kind,
            status=self.status,
            start_time=self.start_time,
            end_time=self.end_time,
            instrumentation_scope=self.instrumentation_scope,
        )
        text: str = plain.to_json(indent)
        return text


new_exported_span = object.__new__


def exported(origin: SpanOrigin, record: SpanRecord) -> ExportedSpan:
    """``record`` as the SDK's span, from the tracer whose ``origin`` it is."""
    span: ExportedSpan = new_exported_span(ExportedSpan)
    span._origin = origin
    span._record = record
    return span
