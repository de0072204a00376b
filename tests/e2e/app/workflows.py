"""Workflows the end-to-end tests run through a real gateway (declared in lockgate.toml)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder

# How many times the ``counted`` step has run in this gateway process: an idempotent replay
# must not move it.
_executions = itertools.count(1)


def build_pipeline() -> AsyncWorkflowBuilder:
    """extract -> transform: the second step gets the first one's ``doubled``."""
    return (
        AsyncWorkflowBuilder("pipeline")
        .add_async_code("extract", "result = {'doubled': [n * 2 for n in numbers]}")
        .add_async_code("transform", "result = {'total': sum(doubled), 'count': len(doubled)}")
        .add_connection("extract", "result.doubled", "transform", "doubled")
    )


async def _explode(rows: int) -> Any:
    raise ValueError(f"row {rows} is malformed")


def build_failing() -> AsyncWorkflowBuilder:
    """fetch completes, explode raises: the run fails naming ``explode`` and keeps fetch."""
    return (
        AsyncWorkflowBuilder("failing")
        .add_async_code("fetch", "result = {'rows': 3}")
        .add_step("explode", _explode)
        .add_connection("fetch", "result.rows", "explode", "rows")
    )


async def _nap(seconds: float) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def build_slow() -> AsyncWorkflowBuilder:
    """Two steps that each sleep ``seconds``: to cancel, to start with wait=false, to watch."""
    return (
        AsyncWorkflowBuilder("slow")
        .add_parameter("seconds", float, default=30.0)
        .add_step("first", _nap)
        .add_step("second", _nap)
        .add_connection("first", "result.slept", "second", "seconds")
    )


async def _report(limit: int, label: str) -> dict[str, Any]:
    return {"limit": limit, "label": label}


def build_report() -> AsyncWorkflowBuilder:
    """Declared parameters: ``limit`` (int, required) and ``label`` (str, defaulted)."""
    return (
        AsyncWorkflowBuilder("report")
        .add_parameter("limit", int, description="How many rows")
        .add_parameter("label", str, default="report")
        .add_step("render", _report)
    )


def build_greeting() -> AsyncWorkflowBuilder:
    """A code step feeding a function step that calls the app's ``echo`` function."""
    return (
        AsyncWorkflowBuilder("greeting")
        .add_async_code("prepare", "result = {'greeting': 'hello ' + name}")
        .add_function_step("call", "echo")
        .add_connection("prepare", "result.greeting", "call", "greeting")
    )


async def _count() -> dict[str, int]:
    return {"execution": next(_executions)}


def build_counted() -> AsyncWorkflowBuilder:
    """One step that reports how many times it has run in this process."""
    return AsyncWorkflowBuilder("counted").add_step("count", _count)


def build_context_echo() -> AsyncWorkflowBuilder:
    """One code step returning the run's context variables (``lockgate run --context``)."""
    return AsyncWorkflowBuilder("context_echo").add_async_code(
        "read",
        """
from lockgate import get_current_context
result = {"variables": dict(get_current_context().variables)}
""",
    )
