"""``DrainingServer``: uvicorn, but a stop signal first takes the gateway out of rotation.

uvicorn stops listening the moment SIGTERM arrives, so a load balancer that has not yet
noticed keeps sending requests to a closed port. Here the first SIGTERM (or Ctrl-C) marks
the gateway draining (``/readyz`` answers 503 ``draining``) and keeps serving for
``drain_seconds``; only then does uvicorn's own graceful shutdown begin. A second signal
begins it at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

__all__ = ["DrainingServer"]

logger = logging.getLogger("lockgate")


class DrainingServer(uvicorn.Server):
    """A ``uvicorn.Server`` that drains for ``drain_seconds`` before it stops.

    Args:
        config: The uvicorn config.
        on_drain: Called (from the signal handler, on the event loop's thread) when the
            first stop signal arrives.
        drain_seconds: How long to keep serving after it; 0 stops at once.
        on_started: Called once the application has started, before the first request.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        on_drain: Callable[[], None],
        drain_seconds: float,
        on_started: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config)
        self._on_drain = on_drain
        self._on_started = on_started
        self._drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._signalled = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._on_started()  # the lifespan has run and nothing has been served yet

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        loop, first = self._loop, not self._signalled
        self._signalled = True
        self._on_drain()
        if not first or self._drain_seconds <= 0 or loop is None:
            if self._timer is not None and loop is not None:
                loop.call_soon_threadsafe(self._timer.cancel)
            super().handle_exit(sig, frame)
            return
        logger.warning(
            "stopping in %g s: /readyz answers 503 draining until then (signal again to stop now)",
            self._drain_seconds,
        )
        # A signal handler may interrupt the loop anywhere: schedule through the thread-safe
        # door rather than touching the loop's timers from here.
        loop.call_soon_threadsafe(self._arm, sig)

    def _arm(self, sig: int) -> None:
        assert self._loop is not None
        self._timer = self._loop.call_later(self._drain_seconds, super().handle_exit, sig, None)
