"""``Backoff``: the one exponential backoff between failed attempts, doubling up to a cap."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait after failed attempt ``n``: ``first * 2 ** (n - 1)``, at most ``cap``.

    Raises:
        ValueError: ``first`` or ``cap`` is negative (or not a number); names it.
    """

    first: float
    cap: float = math.inf

    def __post_init__(self) -> None:
        for name, value in (("backoff", self.first), ("max_backoff", self.cap)):
            if not value >= 0:
                raise ValueError(f"{name} must be zero or more seconds, got {value}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        # The exponent is bounded: 2.0 ** 1024 overflows, and the cap is reached long before.
        return min(self.first * 2.0 ** min(max(attempt - 1, 0), 60), self.cap)
