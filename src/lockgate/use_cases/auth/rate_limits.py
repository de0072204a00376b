"""Token buckets per client: what ``[limits] rate`` and ``burst`` allow one client (its
principal when it presents a credential, else its address), so that no single client, and
no anonymous one above all, can take all of a gateway's capacity.

A bucket holds up to ``burst`` tokens, refills at ``rate`` a second and each request takes
one. Buckets live in memory, per node, as Kong's ``local`` policy keeps them: a client
spread over N nodes gets up to N times the rate. Full buckets are dropped, so memory is
bounded by the clients active in the last ``burst / rate`` seconds (and a hard cap).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["ClientRateLimiter"]

_MAX_CLIENTS = 100_000


class ClientRateLimiter:
    """Admits requests per client key.

    Args:
        rate: Tokens added per second.
        burst: The bucket's size.
        clock: Monotonic seconds.
        max_clients: Buckets kept at most; past it, full ones are dropped first, then the
            oldest (a client then starts again with a full bucket).
    """

    __slots__ = ("_buckets", "_clock", "_max_clients", "burst", "rate")

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = _MAX_CLIENTS,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> int:
        """Take a token for ``key``: 0 when the request may go on, else the whole seconds
        to wait before one is there (for ``Retry-After``)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_clients:
                self._make_room(now)
            tokens = float(self.burst)
        else:
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def waiting(self, key: str) -> int:
        """The whole seconds ``key`` must wait for a token (0: one is there), taking none:
        a client whose failed credentials used up its bucket is turned away before they
        are looked up again."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0
        tokens = min(self.burst, bucket[0] + (self._clock() - bucket[1]) * self.rate)
        return 0 if tokens >= 1.0 else max(1, math.ceil((1.0 - tokens) / self.rate))

    def _make_room(self, now: float) -> None:
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_clients:  # no full one: the oldest go
            for key in list(self._buckets)[: max(1, self._max_clients // 10)]:
                del self._buckets[key]
