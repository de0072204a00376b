"""Snapshots of pool and breaker state, for health and metrics."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["BreakerState", "PoolStats"]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class PoolStats:
    """One pool's counts at one instant."""

    function: str
    config_hash: str
    warm: int
    busy: int
    starting: int
    queued: int
    max_capacity: int
    cold_starts: int
    last_init_error: str | None
    draining: bool = False
