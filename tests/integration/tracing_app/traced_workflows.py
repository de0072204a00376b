"""A workflow whose steps report the trace they run in."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from lockgate import AsyncWorkflowBuilder, get_current_context, get_resource


async def _inside() -> dict[str, Any]:
    """The step's own view: the context Lockgate hands it, the OpenTelemetry span current
    in it (its own spans' parent), and a resource acquired."""
    cache = await get_resource("scratch")
    await cache.set("seen", "yes")
    handed = get_current_context().trace
    current = trace.get_current_span().get_span_context()
    return {
        "traceparent": handed.traceparent if handed is not None else None,
        "current_span_id": f"{current.span_id:016x}",
    }


def build_traced() -> AsyncWorkflowBuilder:
    """inside (a Python step), then call (the ``joined`` function)."""
    return (
        AsyncWorkflowBuilder("traced")
        .add_step("inside", _inside, required_resources=["scratch"])
        .add_function_step("call", "joined")
        .add_connection("inside", "result.traceparent", "call", "parent")
    )
