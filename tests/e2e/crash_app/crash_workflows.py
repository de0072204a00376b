"""The crash test's workflow: ``s1 -> s2 -> s3 -> s4`` with a parallel branch ``s1 -> b -> s4``.

Every step first appends ``"<pid> <tag> <step> start"`` to the file ``$CRASH_LOG`` (O_APPEND,
then fsync, before it does anything else), so the line survives a kill -9 of the gateway
that runs it; then it sleeps 20-80 ms and returns a small result carrying its pid. The
values it computes from the run's parameter ``n`` let the test check the final result:
s4's ``value`` is ``expected(n)``.

s1 waits, before anything else, until the file ``$CRASH_GATE`` exists: the test opens the
gate once every run is accepted, so the runs do their work together whatever the time the
test's client takes to start them all.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

from lockgate import AsyncWorkflowBuilder

__all__ = ["STEPS", "build", "expected"]

STEPS = ("s1", "s2", "b", "s3", "s4")


def expected(n: int) -> int:
    """s4's value for a run started with parameter ``n``."""
    return ((n + 1) * 2 + 3) * 1000 + (n + 1) * 10


def _append(line: bytes) -> None:
    descriptor = os.open(os.environ["CRASH_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)  # one small O_APPEND write: never interleaved
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


async def _start(tag: str, step: str) -> int:
    pid = os.getpid()
    # In a thread so that 200 runs' fsyncs do not stall the event loop; awaited, so the
    # line is on disk before the step's work (and so before its checkpoint can commit).
    await asyncio.to_thread(_append, f"{pid} {tag} {step} start\n".encode())
    await asyncio.sleep(random.uniform(0.02, 0.08))
    return pid


async def s1(tag: str, n: int) -> dict[str, Any]:
    # A stat of a local file is as good as free; and there is no event to wait on.
    while not os.path.exists(os.environ["CRASH_GATE"]):  # noqa: ASYNC110, ASYNC240
        await asyncio.sleep(0.05)
    return {"step": "s1", "pid": await _start(tag, "s1"), "value": n + 1}


async def s2(tag: str, x: int) -> dict[str, Any]:
    return {"step": "s2", "pid": await _start(tag, "s2"), "value": x * 2}


async def b(tag: str, x: int) -> dict[str, Any]:
    return {"step": "b", "pid": await _start(tag, "b"), "value": x * 10}


async def s3(tag: str, x: int) -> dict[str, Any]:
    return {"step": "s3", "pid": await _start(tag, "s3"), "value": x + 3}


async def s4(tag: str, x: int, y: int) -> dict[str, Any]:
    return {"step": "s4", "pid": await _start(tag, "s4"), "value": x * 1000 + y}


def build() -> AsyncWorkflowBuilder:
    return (
        AsyncWorkflowBuilder("crash")
        .add_parameter("tag", str)
        .add_parameter("n", int)
        .add_step("s1", s1)
        .add_step("s2", s2)
        .add_step("b", b)
        .add_step("s3", s3)
        .add_step("s4", s4)
        .add_connection("s1", "result.value", "s2", "x")
        .add_connection("s1", "result.value", "b", "x")
        .add_connection("s2", "result.value", "s3", "x")
        .add_connection("s3", "result.value", "s4", "x")
        .add_connection("b", "result.value", "s4", "y")
    )
