"""A per-function circuit breaker that counts infrastructure failures only.

Closed: calls pass; the outcomes of the last ``window`` calls are kept. When at least
``min_calls`` are recorded and the failure rate reaches ``failure_rate``, it opens.
Open: calls are refused for ``reset_timeout`` seconds. Then half-open: exactly one probe is
let through; its success closes the breaker, its failure opens it again. A probe that ends
without a verdict (cancelled, or shed before it ran) frees the slot for the next probe.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from lockgate.models.pool import BreakerState

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    def __init__(
        self,
        *,
        window: int = 20,
        min_calls: int = 5,
        failure_rate: float = 0.5,
        reset_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < failure_rate <= 1:
            raise ValueError(f"failure_rate must be in (0, 1], got {failure_rate}")
        if not 1 <= min_calls <= window:
            raise ValueError(f"min_calls must be between 1 and window ({window}), got {min_calls}")
        self._outcomes: deque[bool] = deque(maxlen=window)  # True = failure
        self._failures = 0
        self._min_calls = min_calls
        self._failure_rate = failure_rate
        self._reset_timeout = reset_timeout
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = -math.inf
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._reset_timeout
        ):
            self._state = BreakerState.HALF_OPEN
            self._probe_out = False
        return self._state

    def retry_after(self) -> int:
        """Whole seconds until the breaker will let a probe through."""
        left = self._reset_timeout - (self._clock() - self._opened_at)
        return max(1, math.ceil(left))

    def try_acquire(self) -> bool:
        """Ask to make a call. False means refuse it; True obliges a ``record_*`` or ``release``."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def record_success(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._close()
            return
        self._record(failure=False)

    def record_failure(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        if self._state is BreakerState.OPEN:
            return
        self._record(failure=True)
        if (
            len(self._outcomes) >= self._min_calls
            and self._failures / len(self._outcomes) >= self._failure_rate
        ):
            self._open()

    def release(self) -> None:
        """The call ended with no verdict on the function's health."""
        if self._state is BreakerState.HALF_OPEN:
            self._probe_out = False

    def _record(self, *, failure: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._failures -= 1
        self._outcomes.append(failure)
        self._failures += failure

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_out = False

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._outcomes.clear()
        self._failures = 0
        self._probe_out = False
