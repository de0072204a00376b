"""``UsageMeter``: what each API key may still do under its usage plan.

* **Rate**: a token bucket per key on this node, ``burst`` deep, refilled at ``rate`` per
  second; empty, the request is refused (429 Too Many Requests). With N nodes a key can get
  N times its rate, as each node meters alone.
* **Quota**: requests per key per period, counted across nodes on the credential store.
  Counts are written in batches (``flush``, once a second), never once per request: a node
  knows the other nodes' counts as of its last flush, so together the nodes can let through
  at most what the *other* nodes admitted within one flush interval beyond the limit (for
  one key, at most ``(N - 1) * (burst + rate * interval)``). Alone, a node is exact. The
  first request of a key in a period on a node reads the shared count first.

A store that fails is logged and does not stop requests: counts wait for the next flush.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from lockgate.errors import RunStoreError
from lockgate.gateways.interfaces import ICredentialStore, UsageKey
from lockgate.models.security.authorizers import UsagePlan
from lockgate.use_cases.auth.usage.periods import period_of

__all__ = ["ACTIVE_FOR", "FLUSH_INTERVAL", "Refusal", "UsageMeter"]

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
"""Seconds between writes of the counts (the application's flush loop)."""
ACTIVE_FOR = 60.0
"""Seconds after its last request that a key's shared count is still read at each flush."""
_MAX_BUCKETS = 100_000


class Refusal(NamedTuple):
    """Why a request is refused: ``quota`` (else the rate), and seconds to wait."""

    quota: bool
    retry_after: int


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class UsageMeter:
    """Rates and quotas of API keys.

    Args:
        store: Where the shared counts are.
        clock: Monotonic seconds (buckets).
        wall_clock: Unix seconds (quota periods).
    """

    def __init__(
        self,
        store: ICredentialStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self._wall_clock = wall_clock
        self._buckets: dict[str, _Bucket] = {}
        self._known: dict[UsageKey, int] = {}  # the shared totals as of the last flush
        self._pending: dict[UsageKey, int] = {}  # admitted here, not yet written
        self._seen: dict[UsageKey, float] = {}  # last request, monotonic
        self._loading: dict[UsageKey, asyncio.Task[None]] = {}

    async def admit(self, key_id: str, plan: UsagePlan) -> Refusal | None:
        """Count one request of API key ``key_id``; None when it may go on.

        Returns:
            Why it may not, and how long to wait (the bucket's next token, or the end of
            the quota period).
        """
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:  # keys are stored ones: only a safety net
                self._buckets.clear()
            bucket = self._buckets[key_id] = _Bucket(float(plan.burst), now)
        tokens = min(float(plan.burst), bucket.tokens + (now - bucket.updated) * plan.rate)
        bucket.updated = now
        bucket.tokens = tokens
        if tokens < 1.0:
            return Refusal(False, math.ceil((1.0 - tokens) / plan.rate))
        if plan.quota_limit is not None:
            period = period_of(plan.quota_period, self._wall_clock())
            usage = (key_id, period.key)
            if usage not in self._known:
                await self._load(usage)
            self._seen[usage] = now
            pending = self._pending.get(usage, 0)
            if self._known.get(usage, 0) + pending >= plan.quota_limit:
                return Refusal(True, math.ceil(period.ends - self._wall_clock()))
            self._pending[usage] = pending + 1
        bucket.tokens = tokens - 1.0
        return None

    async def _load(self, usage: UsageKey) -> None:
        """Read a key's shared count for a period (once, however many requests wait)."""
        task = self._loading.get(usage)
        if task is None:
            task = self._loading[usage] = asyncio.get_running_loop().create_task(self._read(usage))
        await asyncio.shield(task)

    async def _read(self, usage: UsageKey) -> None:
        try:
            totals = await self._store.add_usage({usage: 0})
            self._known[usage] = totals.get(usage, 0)
        except RunStoreError as exc:
            logger.warning("reading API key usage failed (counted from 0 for now): %s", exc)
            self._known.setdefault(usage, 0)
        finally:
            del self._loading[usage]

    async def flush(self) -> None:
        """Write the counts admitted since the last flush and learn every active key's
        shared total.

        Raises:
            RunStoreError: The store failed; the counts are kept for the next flush.
        """
        now = self._clock()
        for usage, seen in list(self._seen.items()):
            if now - seen > ACTIVE_FOR and usage not in self._pending:
                del self._seen[usage]
                self._known.pop(usage, None)
        pending, self._pending = self._pending, {}
        sending = {usage: pending.get(usage, 0) for usage in (*self._seen, *pending)}
        if not sending:
            return
        try:
            totals = await self._store.add_usage(sending)
        except BaseException:
            for usage, count in pending.items():
                self._pending[usage] = self._pending.get(usage, 0) + count
            raise
        self._known.update(totals)
