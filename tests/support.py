"""Helpers shared by the tests: a manual clock and function factories."""

from __future__ import annotations

from pathlib import Path

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
