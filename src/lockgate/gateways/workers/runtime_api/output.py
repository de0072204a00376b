"""What a custom runtime writes to stdout and stderr, read off two pipes, tail kept.

The runtime writes its output before it posts its answer, so by the time the gateway has
the answer the output is already in the pipes: ``take`` reads them dry synchronously, and
an invocation's logs are complete without any wait. Only the last ``limit`` bytes are kept
(the count of the rest is reported), as the native worker's capture does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque

__all__ = ["OutputTail"]

_READ_SIZE = 64 * 1024
_MAX_READS = 64  # per pipe and drain: a runtime writing without pause cannot pin the loop
_STDERR_TAIL = 4096
_LINE_CHARS = 300


class OutputTail:
    """Two pipes (stdout, stderr) whose write ends go to the runtime; keeps the tail.

    Args:
        limit: Bytes of output kept between two ``take``/``clear`` calls.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        out_read, self.stdout_fd = os.pipe()
        err_read, self.stderr_fd = os.pipe()
        self._stderr_read = err_read
        self._read_fds = (out_read, err_read)
        for fd in self._read_fds:
            os.set_blocking(fd, False)
        self._readable: set[int] = set()  # registered with the loop, not yet at EOF
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chunks: deque[tuple[int, bytes]] = deque()  # (1 stdout or 2 stderr, bytes)
        self._size = 0
        self._dropped = 0
        self._stderr_tail = b""
        self._closed = False

    def attach(self) -> None:
        """The runtime has its copies of the write ends: drop ours and start reading."""
        for fd in (self.stdout_fd, self.stderr_fd):
            os.close(fd)
        self.stdout_fd = self.stderr_fd = -1
        self._loop = asyncio.get_running_loop()
        for fd in self._read_fds:
            self._loop.add_reader(fd, self._read, fd)
            self._readable.add(fd)

    def take(self) -> tuple[bytes, int]:
        """Everything written since the last ``take``/``clear`` (its tail), and the bytes
        of it left out."""
        data, _, dropped = self.take_runs()
        return data, dropped

    def take_runs(self) -> tuple[bytes, list[int], int]:
        """``take``, with the runs saying which bytes came from which stream
        (``[1 or 2, length, ...]``, as ``models.function_log.output_lines`` reads them)."""
        self._drain()
        runs: list[int] = []
        for stream, chunk in self._chunks:
            if runs and runs[-2] == stream:
                runs[-1] += len(chunk)
            else:
                runs += (stream, len(chunk))
        data = b"".join(chunk for _, chunk in self._chunks)
        dropped = self._dropped
        self._reset()
        return data, runs, dropped

    def clear(self) -> None:
        """Forget what has been written so far."""
        self._drain()
        self._reset()

    @property
    def last_stderr_line(self) -> str:
        """The last non-blank line the runtime wrote to stderr, shortened; empty if none."""
        self._drain()
        for raw in reversed(self._stderr_tail.decode(errors="replace").splitlines()):
            line = raw.strip()
            if line:
                return line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…"
        return ""

    def close(self) -> None:
        """Read what is left, stop reading and close the pipes. Idempotent."""
        if self._closed:
            return
        self._drain()
        self._closed = True
        for fd in list(self._readable):
            self._stop_reading(fd)
        for fd in (*self._read_fds, self.stdout_fd, self.stderr_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _drain(self) -> None:
        for fd in list(self._readable):
            self._read(fd)

    def _read(self, fd: int) -> None:
        for _ in range(_MAX_READS):
            try:
                chunk = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # every writer has closed it: the runtime (and its children) exited
                self._stop_reading(fd)
                return
            self._keep(2 if fd == self._stderr_read else 1, chunk)
            if fd == self._stderr_read:
                self._stderr_tail = (self._stderr_tail + chunk)[-_STDERR_TAIL:]

    def _keep(self, stream: int, chunk: bytes) -> None:
        self._chunks.append((stream, chunk))
        self._size += len(chunk)
        while self._size > self._limit:
            excess = self._size - self._limit
            first_stream, first = self._chunks[0]
            cut = min(len(first), excess)
            if cut == len(first):
                self._chunks.popleft()
            else:
                self._chunks[0] = (first_stream, first[cut:])
            self._size -= cut
            self._dropped += cut

    def _reset(self) -> None:
        self._chunks.clear()
        self._size = 0
        self._dropped = 0

    def _stop_reading(self, fd: int) -> None:
        self._readable.discard(fd)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(fd)
