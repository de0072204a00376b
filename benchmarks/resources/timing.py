"""Timing helpers of the resources benchmark: per-operation microseconds from batches (for
operations too quick to time one by one) or from each operation timed on its own (summarised
by ``benchmarks.common.summary_us``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.common import summary_us

__all__ = ["each_timed", "per_op_batches"]

Batch = Callable[[int], Awaitable[float]]
"""Runs ``n`` operations and returns the seconds they took (set-up left outside the timing)."""


async def per_op_batches(batch: Batch, iterations: int, batch_size: int) -> dict[str, Any]:
    """``iterations`` operations in batches of ``batch_size``: the summary is of each batch's
    time per operation, so one garbage collection or preemption spoils one batch only."""
    per_op: list[float] = []
    done = 0
    while done < iterations:
        size = min(batch_size, iterations - done)
        per_op.append(await batch(size) / size * 1e6)
        done += size
    return {**summary_us(per_op), "operations": done, "batch_size": batch_size}


async def each_timed(operation: Callable[[], Awaitable[object]], count: int) -> dict[str, Any]:
    """``count`` operations, each timed on its own (for those of tens of µs or more)."""
    times: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        await operation()
        times.append((time.perf_counter() - start) * 1e6)
    return {**summary_us(times), "operations": count}
