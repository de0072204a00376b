"""Helpers shared by the tests: a manual clock, function factories and the polling waits
(``eventually`` in async code; ``wait_until`` and ``wait_for`` for another process's state)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lockgate.models.function import FunctionEntity, ScalingConfig

T = TypeVar("T")


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


def wait_until(predicate: Callable[[], Any], guard: float = 60.0, *, what: str = "") -> None:
    """Poll another process's state from synchronous code; ``guard`` stops a hang, it is
    not a timing claim. ``what`` says what never happened when it gives up."""
    wait_for(predicate, bool, guard=guard, what=what)


def wait_for(
    fetch: Callable[[], T], done: Callable[[T], Any], *, guard: float = 60.0, what: str = ""
) -> T:
    """Fetch another process's state until ``done(value)`` holds, and return that value;
    ``guard`` stops a hang, it is not a timing claim. On giving up, the assertion says
    ``what`` never happened and shows the last value fetched."""
    deadline = time.monotonic() + guard
    while not done(value := fetch()):
        assert time.monotonic() < deadline, f"gave up waiting: {what or 'condition'} ({value!r})"
        time.sleep(0.02)
    return value
