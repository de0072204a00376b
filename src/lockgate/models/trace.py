"""Trace context as it travels between processes, and the ``[tracing]`` settings.

A ``TraceContext`` is one span's identity: what a W3C ``traceparent`` header carries, and
what AWS writes as ``X-Amzn-Trace-Id`` / ``_X_AMZN_TRACE_ID``. The two are the same ids in
two spellings (AWS's own OpenTelemetry propagator maps them the same way): the X-Ray root is
``1-`` + the trace id's first 8 hex digits + ``-`` + its other 24, and ``Parent`` is the
span id.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal, NamedTuple

__all__ = ["SpanKind", "TraceContext", "TracingConfig", "make_trace_context"]

# version 00; any later version is read by its first four fields, as the W3C spec asks.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_INVALID_TRACE, _INVALID_SPAN = "0" * 32, "0" * 16


class SpanKind(enum.IntEnum):
    """OpenTelemetry's span kinds, without importing OpenTelemetry: numbered as its
    ``SpanKind`` (an int, so a span keeps its kind with no lookup on the request path)."""

    INTERNAL = 0
    SERVER = 1
    CLIENT = 2
    PRODUCER = 3
    CONSUMER = 4


class TraceContext(NamedTuple):
    """One span's identity, to hand on to a handler, a worker or a step.

    A NamedTuple, as ``InputContext``: immutable, and made up to twice a traced request,
    where a frozen dataclass costs three times as much to build.

    Attributes:
        trace_id: 32 lower-case hex digits.
        span_id: 16 lower-case hex digits: the span the receiver's spans are children of.
        sampled: Whether the trace is recorded (the receiver should record its spans too).
    """

    trace_id: str
    span_id: str
    sampled: bool

    @classmethod
    def from_traceparent(cls, value: str | None) -> TraceContext | None:
        """The context a W3C ``traceparent`` header carries; None when it is absent or
        invalid (the spec says to ignore an invalid one)."""
        if not value:
            return None
        match = _TRACEPARENT.fullmatch(value.strip())
        if match is None:
            return None
        version, trace_id, span_id, flags, rest = match.groups()
        if version == "ff" or (version == "00" and rest is not None):
            return None
        if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
            return None
        return cls(trace_id, span_id, bool(int(flags, 16) & 1))

    # The fields unpacked, not looked up by name: each is made on a traced request's path.
    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` header value."""
        trace_id, span_id, sampled = self
        return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"

    @property
    def amzn_trace_id(self) -> str:
        """AWS's ``X-Amzn-Trace-Id`` value, as Lambda sets ``_X_AMZN_TRACE_ID``."""
        return self.header_values()[1]

    def header_values(self) -> tuple[str, str]:
        """``(traceparent, amzn_trace_id)`` in one call: an event's two trace headers."""
        trace_id, span_id, sampled = self
        return (
            f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}",
            f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={span_id};"
            f"Sampled={'1' if sampled else '0'}",
        )


make_trace_context: Callable[[tuple[str, str, bool]], TraceContext] = partial(
    tuple.__new__, TraceContext
)
"""``TraceContext`` from its three fields as one tuple, unchecked: the spans' own way (half
the cost of the named tuple's generated ``__new__``, on a traced request's path)."""


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """The ``[tracing]`` table: whether and where the gateway's spans go.

    Attributes:
        enabled: Off by default; off, OpenTelemetry is not even imported.
        service_name: ``service.name`` of the spans; None: ``OTEL_SERVICE_NAME``, else
            ``lockgate``.
        exporter: ``otlp`` (OTLP over HTTP, protobuf), ``console`` (standard output) or
            ``none`` (spans are made and dropped: what tracing costs without a collector).
        endpoint: The OTLP/HTTP traces URL; None: the SDK's own choice
            (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
            ``http://localhost:4318/v1/traces``).
        sample_ratio: The share of new traces recorded (a caller's sampled flag is
            followed); None: the SDK's ``OTEL_TRACES_SAMPLER`` (by default every trace).
    """

    enabled: bool = False
    service_name: str | None = None
    exporter: Literal["otlp", "console", "none"] = "otlp"
    endpoint: str | None = None
    sample_ratio: float | None = None

    def __post_init__(self) -> None:
        if self.sample_ratio is not None and not 0.0 <= self.sample_ratio <= 1.0:
            raise ValueError(f"sample_ratio must be from 0 to 1, got {self.sample_ratio}")
