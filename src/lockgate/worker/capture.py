"""Per-invocation capture of everything the worker writes to stdout and stderr.

File descriptors 1 and 2 are pointed at a pipe, so output from C extensions and child
processes is captured too, not only ``print``. A daemon thread drains the pipe so a handler
that writes megabytes never blocks on a full pipe; only the last ``limit`` bytes are kept.
"""

from __future__ import annotations

import io
import os
import select
import sys
import threading
from collections import deque

__all__ = ["OutputCapture"]


class OutputCapture:
    def __init__(self, limit: int) -> None:
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self._limit = limit
        self._lock = threading.Lock()
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._dropped = 0
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(line_buffering=True)
        threading.Thread(target=self._drain_forever, name="lockgate-capture", daemon=True).start()

    def collect(self) -> tuple[bytes, int]:
        """Everything written since the last call (its tail) and the bytes dropped before it."""
        sys.stdout.flush()
        sys.stderr.flush()
        # A write that returned is already in the pipe, so draining under the lock here sees
        # all of it; the lock keeps the drain thread from holding a chunk we have not seen.
        with self._lock:
            self._read_available()
            data = b"".join(self._chunks)
            dropped = self._dropped
            self._chunks.clear()
            self._size = 0
            self._dropped = 0
        return data, dropped

    def _drain_forever(self) -> None:
        while True:
            select.select([self._read_fd], [], [])
            with self._lock:
                self._read_available()

    def _read_available(self) -> None:
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size > self._limit:
                excess = self._size - self._limit
                first = self._chunks[0]
                if len(first) <= excess:
                    self._chunks.popleft()
                    cut = len(first)
                else:
                    self._chunks[0] = first[excess:]
                    cut = excess
                self._size -= cut
                self._dropped += cut
