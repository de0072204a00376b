"""``TracedLambdaInvoker``: the ``LambdaInvoker`` of a gateway with tracing on, each call in
an ``invoke NAME`` span after OpenTelemetry's FaaS conventions.

A subclass the composition root picks, rather than a branch in ``LambdaInvoker``: with
tracing off, invocations pay nothing for it.
"""

from __future__ import annotations

import time

from lockgate.gateways.interfaces import IInvocationBackend, IInvocationMetrics, ITracer
from lockgate.models.ids import new_request_id
from lockgate.models.invocation import InvocationResult
from lockgate.models.trace import SpanKind, TraceContext
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.output import FunctionOutput
from lockgate.use_cases.functions.registry import FunctionRegistry

__all__ = ["TracedLambdaInvoker"]


class TracedLambdaInvoker(LambdaInvoker):
    """Invokes as ``LambdaInvoker`` does, inside a span whose identity the handler gets as
    its parent (``_X_AMZN_TRACE_ID``), so its own spans are the invocation's children.

    Args:
        registry, backend, metrics, output: As ``LambdaInvoker``'s.
        tracer: Makes the spans.
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        backend: IInvocationBackend,
        metrics: IInvocationMetrics,
        *,
        tracer: ITracer,
        output: FunctionOutput | None = None,
    ) -> None:
        super().__init__(registry, backend, metrics, output=output)
        self._tracer = tracer

    async def invoke_function(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        qualifier: str | None = None,
        trace: TraceContext | None = None,
        trigger: str = "other",
    ) -> InvocationResult:
        """``LambdaInvoker.invoke_function`` in a client span: ``faas.invoked_name``,
        ``faas.trigger``, ``faas.invocation_id``, then ``faas.coldstart`` and the outcome
        (a failure marks the span, by its outcome's name only). ``trace`` is the parent
        when no span is current (a caller's ``traceparent``, tracing off upstream). An
        unknown ``name``'s span ends failed, with ``FunctionNotFoundError``."""
        request_id = request_id or new_request_id()
        attributes: dict[str, str | bool | int | float] = {
            "faas.invoked_name": name,
            "faas.trigger": trigger,
            "faas.invocation_id": request_id,
        }
        with self._tracer.span(
            f"invoke {name}", kind=SpanKind.CLIENT, attributes=attributes, parent=trace
        ) as span:
            started = time.monotonic()
            call = self._acquire_worker(
                name, payload, request_id, client_context, qualifier, span.context()
            )
            if isinstance(call, InvocationResult):  # the circuit is open: nothing ran
                result, outcome = call, "circuit_open"
            else:
                reply = await self._execute_request(call)
                self._record_output(call, reply)
                result, outcome = self._validate_response(reply)
            self._finish(name, started, result, outcome)
            span.set_attributes(
                {
                    "faas.coldstart": result.cold_start,
                    "lockgate.outcome": outcome,
                    "lockgate.handler_ms": result.handler_ms,
                }
            )
            if outcome != "success":
                span.fail(outcome)
            return result
