"""Per-invocation capture of everything the worker writes to stdout and stderr.

File descriptors 1 and 2 are pointed at two pipes, so output from C extensions and child
processes is captured too, not only ``print``, and each byte keeps the stream it came from.
A daemon thread drains the pipes so a handler that writes megabytes never blocks on a full
pipe; only the last ``limit`` bytes are kept.

An invocation that is still running after ``LIVE_AFTER_S`` has its output handed to ``live``
as it arrives (the gateway logs it as it happens); a quicker one's output all goes back with
its result, which costs nothing extra per call.
"""

from __future__ import annotations

import io
import os
import select
import sys
import threading
import time
from collections import deque

# typing costs a worker ~15 ms to import; type checkers still read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Live = Callable[[bytes, list[int]], None]

__all__ = ["LIVE_AFTER_S", "PLATFORM", "STDERR", "STDOUT", "OutputCapture"]

# The stream codes of ``runs``: Lambda's own START/END/REPORT lines, then fds 1 and 2.
PLATFORM, STDOUT, STDERR = 0, 1, 2
LIVE_AFTER_S = 0.2


class OutputCapture:
    """The two pipes and their tail.

    Args:
        limit: Bytes kept between two ``collect`` calls (the oldest are dropped, counted).
        live: Given ``(data, runs)`` for output of a long invocation as it arrives; runs
            are ``[stream, length, stream, length, ...]`` over ``data``. Called on the
            drain thread, under the capture's lock, so it is done before ``collect``
            returns.
    """

    def __init__(self, limit: int, live: Live | None = None) -> None:
        self._fds: dict[int, int] = {}  # read end -> stream code
        for stream in (STDOUT, STDERR):
            read_fd, write_fd = os.pipe()
            os.dup2(write_fd, stream)
            os.close(write_fd)
            os.set_blocking(read_fd, False)
            self._fds[read_fd] = stream
        self._limit = limit
        self._live = live
        self._lock = threading.Lock()
        self._chunks: deque[tuple[int, bytes]] = deque()
        self._size = 0
        self._dropped = 0
        self._head: bytes = b""  # written first once output goes live (the START line)
        self._live_since: float | None = None  # when output of this invocation may go live
        self._went_live = False
        for text_stream in (sys.stdout, sys.stderr):
            if isinstance(text_stream, io.TextIOWrapper):
                text_stream.reconfigure(line_buffering=True)
        threading.Thread(target=self._drain_forever, name="lockgate-capture", daemon=True).start()

    def begin(self, head: bytes) -> None:
        """An invocation starts; ``head`` goes first if its output goes live."""
        with self._lock:
            self._head = head
            self._went_live = False
            self._live_since = time.monotonic() + LIVE_AFTER_S if self._live else None

    def collect(self) -> tuple[bytes, list[int], int, bool]:
        """What was written since the last call (its tail), its runs, the bytes dropped
        before it, and whether the invocation's head and earlier output already went live."""
        sys.stdout.flush()
        sys.stderr.flush()
        # A write that returned is already in a pipe, so draining under the lock here sees
        # all of it; the lock keeps the drain thread from holding a chunk we have not seen.
        with self._lock:
            self._read_available()
            data, runs = self._take()
            dropped, went_live = self._dropped, self._went_live
            self._dropped = 0
            self._live_since = None
        return data, runs, dropped, went_live

    def _take(self) -> tuple[bytes, list[int]]:
        runs: list[int] = []
        for stream, chunk in self._chunks:
            if runs and runs[-2] == stream:
                runs[-1] += len(chunk)
            else:
                runs += (stream, len(chunk))
        data = b"".join(chunk for _, chunk in self._chunks)
        self._chunks.clear()
        self._size = 0
        return data, runs

    def _drain_forever(self) -> None:
        fds = list(self._fds)
        while True:
            live_since = self._live_since
            timeout = None
            if live_since is not None and self._chunks:
                timeout = max(live_since - time.monotonic(), 0.0) + 0.01
            select.select(fds, [], [], timeout)
            with self._lock:
                self._read_available()
                self._send_live()

    def _send_live(self) -> None:
        live_since = self._live_since
        if live_since is None or not self._chunks or time.monotonic() < live_since:
            return
        data, runs = self._take()
        if not self._went_live:
            self._went_live = True
            data = self._head + data
            runs = [PLATFORM, len(self._head), *runs]
        assert self._live is not None  # _live_since is only set with a live callback
        self._live(data, runs)

    def _read_available(self) -> None:
        for fd, stream in self._fds.items():
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self._keep(stream, chunk)

    def _keep(self, stream: int, chunk: bytes) -> None:
        self._chunks.append((stream, chunk))
        self._size += len(chunk)
        while self._size > self._limit:
            excess = self._size - self._limit
            first_stream, first = self._chunks[0]
            if len(first) <= excess:
                self._chunks.popleft()
                cut = len(first)
            else:
                self._chunks[0] = (first_stream, first[excess:])
                cut = excess
            self._size -= cut
            self._dropped += cut
