"""``RunStoreProbe``: whether the run store answers, for readiness.

Every new run needs the store, so a gateway whose store is unreachable answers each run with
an error: it must not call itself ready. The probe pings in the background, so ``/readyz``
reads a remembered answer (no probe traffic reaches the database, however often a load
balancer asks) that is at most ``interval`` plus ``timeout`` old.
"""

from __future__ import annotations

import asyncio
import logging

from lockgate.errors import LockgateError
from lockgate.gateways.interfaces import IRunStore

__all__ = ["RunStoreProbe"]

logger = logging.getLogger(__name__)


class RunStoreProbe:
    """Pings the run store every ``interval`` seconds and remembers the answer.

    Args:
        store: The run store (open while ``run`` runs).
        interval: Seconds between pings.
        timeout: Seconds a ping may take before the store counts as unreachable.
    """

    def __init__(self, store: IRunStore, *, interval: float = 2.0, timeout: float = 5.0) -> None:
        self._store = store
        self._interval = interval
        self._timeout = timeout
        self.error: str | None = None  # why the last ping failed; None: it answered

    async def check(self) -> str | None:
        """Ping once; remember and return why it failed (None when it answered).

        Logs a warning when the store stops answering and when it answers again, once each.
        """
        try:
            async with asyncio.timeout(self._timeout):
                await self._store.ping()
        except TimeoutError:
            error: str | None = f"the run store did not answer within {self._timeout:g} s"
        except LockgateError as exc:
            error = exc.message
        except Exception as exc:  # a bug in a store must not end the probe (nor say ready)
            logger.exception("pinging the run store failed")
            error = f"pinging the run store failed ({type(exc).__name__})"
        else:
            error = None
        if error is not None and self.error is None:
            logger.warning("the run store is unreachable, new runs fail: %s", error)
        elif error is None and self.error is not None:
            logger.warning("the run store answers again")
        self.error = error
        return error

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self._interval)
