"""Helpers shared by the tests: a manual clock, function factories and a polling wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lockgate.models.function import FunctionEntity, ScalingConfig


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_function(name: str = "fn", /, **scaling: int | float) -> FunctionEntity:
    return FunctionEntity(
        name=name,
        handler="handlers:handler",
        code_dir=Path("."),
        timeout_seconds=30,
        scaling=ScalingConfig(**scaling),  # type: ignore[arg-type]
    )


async def eventually(predicate: Callable[[], Any], *, guard: float = 10.0) -> None:
    """Wait until ``predicate()`` is true: for what gives no event to wait on (another
    process, a background delivery). ``guard`` stops a hang; it is not a timing claim."""
    async with asyncio.timeout(guard):
        while not predicate():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await asyncio.sleep(0.005)


def wait_until(predicate: Callable[[], Any], guard: float = 60.0) -> None:
    """Poll another process's state from synchronous code; ``guard`` stops a hang, it is
    not a timing claim."""
    deadline = time.monotonic() + guard
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
