"""``SpanBatches``: finished spans queued in memory and handed to an exporter in batches,
from one thread of its own.

The SDK's ``BatchSpanProcessor`` does the same, and is what this replaces on the gateway's
request path only because of what it costs there: its ``on_end`` reads each span's
``SpanContext`` (which the gateway's spans build only when an exporter asks) and takes a
few checks per span, together a third of a traced request's added CPU. Here a gateway span
costs an append (of a ``SpanRecord``, made into a ``ReadableSpan`` here, in the export
thread); spans made with OpenTelemetry's own API (a step's, a handler's) come in
through ``on_end`` as the SDK's processors take them. The behaviour is the SDK's defaults:
a queue of 2048, batches of 512, an export every 5 s or as soon as a batch is full, the
newest spans dropped (and counted in a warning) when the queue is full, exports with
instrumentation suppressed so an instrumented HTTP client does not trace its own exports.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from lockgate.gateways.tracing.records import (
    ExportedSpan,
    SpanOrigin,
    SpanRecord,
    new_exported_span,
)

__all__ = ["SpanBatches"]

_log = logging.getLogger("lockgate.tracing")


class SpanBatches(SpanProcessor):
    """Queues finished spans; a thread hands them to ``exporter``.

    Args:
        exporter: Where batches go (OTLP/HTTP, the console, or nowhere).
        resource: The gateway's spans' resource (``service.name`` ...).
        scope: Their instrumentation scope.
        max_queue: Spans kept waiting at most; past it new ones are dropped.
        batch: Spans per export call, and the queue length that wakes the thread early.
        delay_s: The longest a span waits while the queue stays under ``batch``.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        resource: Resource,
        scope: InstrumentationScope,
        *,
        max_queue: int = 2048,
        batch: int = 512,
        delay_s: float = 5.0,
    ) -> None:
        self._exporter = exporter
        self._origin: SpanOrigin = (resource, scope)
        self.max_queue = max_queue
        self.batch = batch
        self._delay_s = delay_s
        self._stopped = False
        self.dropped = 0
        self._start()
        # A forked child needs its own thread (and queue); held weakly, so a queue that is
        # dropped (a test's, a reloaded gateway's) is not kept, nor restarted, by the hook.
        restart = weakref.WeakMethod(self._restart_after_fork)
        os.register_at_fork(after_in_child=lambda: (method := restart()) and method())

    def _start(self) -> None:
        # Public: a gateway span appends itself (``add``, inline), as ``add`` does.
        self.queue: deque[SpanRecord | ReadableSpan] = deque()
        self.wake = threading.Event()
        self._exporting = threading.Lock()  # one export at a time: the thread's or a flush's
        self._thread = threading.Thread(target=self._run, name="lockgate-spans", daemon=True)
        self._thread.start()

    def _restart_after_fork(self) -> None:
        if not self._stopped:
            self._start()

    def add(self, span: SpanRecord | ReadableSpan) -> None:
        """Queue a finished, sampled span (a gateway span does the same, inline)."""
        queue = self.queue
        if len(queue) >= self.max_queue:
            self.dropped += 1  # a race with the thread's read may miscount one: a warning
            return
        queue.append(span)
        if len(queue) == self.batch:
            self.wake.set()

    def on_end(self, span: ReadableSpan) -> None:
        """The SDK's spans, when they end: queued if sampled."""
        context = span.context
        if context is not None and context.trace_flags.sampled:
            self.add(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:  # noqa: ARG002 - the exporter's own timeout bounds it
        """Export everything queued, now, from the calling thread."""
        self._export()
        return True

    def shutdown(self) -> None:
        """Stop the thread, export what is left and shut the exporter down."""
        if self._stopped:
            return
        self._stopped = True
        self.wake.set()
        self._thread.join(self._delay_s)
        self._export()
        self._exporter.shutdown()

    def _run(self) -> None:
        while not self._stopped:
            self.wake.wait(self._delay_s)
            self.wake.clear()
            self._export()

    def _export(self) -> None:
        with self._exporting:
            token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
            try:
                queue, origin = self.queue, self._origin
                while queue:
                    batch: list[ReadableSpan] = []
                    for _ in range(min(self.batch, len(queue))):
                        span = queue.popleft()
                        if type(span) is tuple:  # a gateway span's record: made the SDK's span
                            made = new_exported_span(ExportedSpan)  # as exported() does,
                            made._origin = origin  # inline: thousands a second
                            made._record = span
                            batch.append(made)
                        else:  # the SDK's own (a step's, a handler's) came in as such
                            batch.append(span)  # type: ignore[arg-type]
                    try:
                        self._exporter.export(batch)
                    except Exception:  # an exporter's failure must not end the thread
                        _log.exception("exporting %d spans failed", len(batch))
            finally:
                detach(token)
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                _log.warning(
                    "%d spans dropped: more finished than the exporter took (queue of %d)",
                    dropped,
                    self.max_queue,
                )
