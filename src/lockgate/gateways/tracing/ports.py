"""Spans around requests, invocations, workflow runs, steps, resource acquisitions and event
deliveries. Use cases speak to ``ITracer``; with tracing off they hold ``NO_TRACER``, whose
spans cost a method call and allocate nothing."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from lockgate.models.trace import SpanKind, TraceContext

__all__ = ["NO_TRACER", "Attributes", "ISpan", "ITracer"]

Attributes = Mapping[str, str | bool | int | float]
"""Span attributes: never a secret, a payload or a query string (it may hold a token)."""


@runtime_checkable
class ISpan(Protocol):
    """One span, open while its ``with`` block runs."""

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:
        """Set one attribute.

        Args:
            key: Its name, in OpenTelemetry's semantic conventions where one fits.
            value: Its value; never a secret.

        Raises:
            Nothing.

        Side Effects:
            The span carries it when exported.

        Note:
            No external call: memory only.
        """
        ...

    def set_attributes(self, attributes: Attributes) -> None:
        """Set several attributes at once (one call where a hot path sets a few).

        Args:
            attributes: Names and values, as ``set_attribute`` takes them.

        Raises:
            Nothing.

        Side Effects:
            The span carries them when exported.

        Note:
            No external call: memory only.
        """
        ...

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:
        """Mark a moment in the span (a worker acquired, a handler returned).

        Args:
            name: What happened.
            attributes: About it.

        Raises:
            Nothing.

        Side Effects:
            The span carries the event, timed now.

        Note:
            No external call: memory only.
        """
        ...

    def set_name(self, name: str) -> None:
        """Rename the span (a request's route is known only once it is matched).

        Args:
            name: The new name.

        Raises:
            Nothing.

        Side Effects:
            The span is exported under it.

        Note:
            No external call: memory only.
        """
        ...

    def fail(self, description: str) -> None:
        """Mark the span's status as an error.

        Args:
            description: What failed, already scrubbed of secrets.

        Raises:
            Nothing.

        Side Effects:
            The span's status is ERROR.

        Note:
            No external call: memory only.
        """
        ...

    def context(self) -> TraceContext | None:
        """This span's identity, to hand on to a handler, a worker or a step.

        Returns:
            Its trace and span ids and sampled flag; None when tracing is off.

        Raises:
            Nothing.

        Side Effects:
            None.

        Note:
            No external call.
        """
        ...


@runtime_checkable
class ITracer(Protocol):
    """Makes spans; the one the gateway holds is ``NO_TRACER`` when tracing is off."""

    @property
    def enabled(self) -> bool:
        """Whether spans are made at all (hot paths skip their tracing work when not).

        Returns:
            True for a real tracer.

        Raises:
            Nothing.

        Side Effects:
            None.

        Note:
            No external call.
        """
        ...

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        headers: Mapping[str, str] | None = None,
        parent: TraceContext | None = None,
    ) -> AbstractContextManager[ISpan]:
        """A span, current while the ``with`` block runs: a request's (``headers`` given)
        is a child of the caller's ``traceparent`` or starts a trace; any other is a child
        of the current span, or of ``parent`` when none is current.

        Args:
            name: The span's name (``GET /hello/{name}``, ``invoke hello``).
            kind: Server, client, producer, consumer or internal.
            attributes: Its first attributes.
            headers: An incoming request's headers (lower-case names): a valid W3C
                ``traceparent`` among them is the parent.
            parent: A parent carried by other means (a caller's ``traceparent`` when no
                span is current).

        Returns:
            A context manager yielding the span; an exception leaving the block marks the
            span failed (with the exception's type only: its message may hold a secret).

        Raises:
            Nothing of its own.

        Side Effects:
            The span ends, and is queued for export, when the block ends.

        Note:
            No external call: the exporter sends spans in batches from its own thread.
        """
        ...

    def current(self) -> ISpan:
        """The span current in this task (a no-op span outside any).

        Returns:
            The span.

        Raises:
            Nothing.

        Side Effects:
            None.

        Note:
            No external call: a context variable's read.
        """
        ...

    async def flush(self) -> None:
        """Export what is queued (the gateway stopping; the exporter itself is shut down
        when the process exits).

        Raises:
            Nothing: an exporter that fails or hangs past its own timeout is given up on.

        Side Effects:
            Empties the span queue.

        Note:
            The exporter's last batch: an OTLP/HTTP request to the collector.
        """
        ...


class _NoSpan:
    """The span of ``NO_TRACER``: its own context manager, so a span costs no allocation."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def set_attribute(self, key: str, value: str | bool | int | float) -> None:  # noqa: ARG002
        return None

    def set_attributes(self, attributes: Attributes) -> None:  # noqa: ARG002
        return None

    def add_event(self, name: str, attributes: Attributes | None = None) -> None:  # noqa: ARG002
        return None

    def set_name(self, name: str) -> None:  # noqa: ARG002
        return None

    def fail(self, description: str) -> None:  # noqa: ARG002
        return None

    def context(self) -> TraceContext | None:
        return None


_NO_SPAN = _NoSpan()


class _NoTracer:
    """Tracing off: every span is the same do-nothing object. Kept beside the port because
    it is every use case's default, and use cases import ports alone."""

    __slots__ = ()
    enabled = False

    def span(
        self,
        name: str,  # noqa: ARG002
        *,
        kind: SpanKind = SpanKind.INTERNAL,  # noqa: ARG002
        attributes: Attributes | None = None,  # noqa: ARG002
        headers: Mapping[str, str] | None = None,  # noqa: ARG002
        parent: TraceContext | None = None,  # noqa: ARG002
    ) -> AbstractContextManager[ISpan]:
        return _NO_SPAN

    def current(self) -> ISpan:
        return _NO_SPAN

    async def flush(self) -> None:
        return None


NO_TRACER: ITracer = _NoTracer()
