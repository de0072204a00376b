"""Counts a PostgreSQL server's sessions with one ``application_name``, every few ms, from
its own thread, event loop and connection: the count goes on while the measured event loop
is saturated, and it sees connections the pool has opened but not yet handed out."""

from __future__ import annotations

import asyncio
import threading
import time

import asyncpg

__all__ = ["ConnectionSampler"]

_COUNT = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
_START_TIMEOUT = 10.0  # seconds to connect before the benchmark gives up


class ConnectionSampler:
    """``samples`` holds ``(perf_counter seconds, sessions)`` pairs while it runs.

    Args:
        dsn: The server, reached with a connection of its own (not counted: its
            application_name is not ``application_name``).
        application_name: The sessions to count.
        interval: Seconds between the end of one count and the start of the next.
    """

    def __init__(self, dsn: str, application_name: str, interval: float) -> None:
        self.samples: list[tuple[float, int]] = []
        self._dsn = dsn
        self._name = application_name
        self._interval = interval
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="connection-sampler")

    def start(self) -> None:
        """Start sampling; returns once the first count is in.

        Raises:
            RuntimeError: The sampler could not connect or count.
        """
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the connection sampler did not start: {self._error!r}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, since: float = 0.0, until: float = float("inf")) -> int:
        """The most sessions counted between ``since`` and ``until`` (perf_counter)."""
        return max((n for at, n in self.samples if since <= at <= until), default=0)

    def count_within(self, since: float, until: float) -> int:
        return sum(1 for at, _ in self.samples if since <= at <= until)

    def _main(self) -> None:
        try:
            asyncio.run(self._sample())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _sample(self) -> None:
        connection = await asyncpg.connect(self._dsn)
        try:
            while not self._stop.is_set():
                count = await connection.fetchval(_COUNT, self._name)
                self.samples.append((time.perf_counter(), int(count)))
                self._ready.set()
                await asyncio.sleep(self._interval)
        finally:
            await connection.close()
