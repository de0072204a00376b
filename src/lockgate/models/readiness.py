"""Whether the gateway should get traffic now, and if not, why."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["NotReady", "Readiness"]


class NotReady(enum.Enum):
    """Why the gateway is not ready: the short reasons ``/readyz`` gives to anyone."""

    STARTING = "starting"  # not started yet, or min_warm workers still starting
    FUNCTION_CANNOT_START = "function_cannot_start"  # a min_warm function's start failed
    RUN_STORE_UNREACHABLE = "run_store_unreachable"
    DRAINING = "draining"  # stopping: in-flight work finishes, new traffic goes elsewhere


@dataclass(frozen=True, slots=True)
class Readiness:
    """One readiness verdict.

    Attributes:
        reasons: Empty when ready; otherwise each reason once, in ``NotReady``'s order.
        functions: Functions short of their ``min_warm`` workers: the last start's error,
            or None while they are still starting (for operators: ``/health``).
        run_store_error: Why the run store did not answer its last ping, if it did not.
    """

    reasons: tuple[NotReady, ...] = ()
    functions: Mapping[str, str | None] = field(default_factory=dict)
    run_store_error: str | None = None

    @property
    def ready(self) -> bool:
        return not self.reasons
