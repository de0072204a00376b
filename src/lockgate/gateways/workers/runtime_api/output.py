"""What a custom runtime writes to stdout and stderr, read off two pipes, tail kept.

The runtime writes its output before it posts its answer, so by the time the gateway has
the answer the output is already in the pipes: ``take`` reads them dry synchronously, and
an invocation's logs are complete without any wait. Only the last ``limit`` bytes are kept
(the count of the rest is reported), as the native worker's capture does.

While an invocation runs, what it writes is also handed on as it arrives (``arm``): whole
lines, in the order written, so a long invocation's output shows in the gateway's log as
it happens, as a native worker's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

__all__ = ["LiveOutput", "OutputTail", "TakenOutput", "runs_after"]

LiveOutput = Callable[[Sequence[int], bytes], None]
"""Given output as it arrives: ``[stream, length, ...]`` over the bytes, and the bytes."""


class TakenOutput(NamedTuple):
    """What ``take_runs`` returns.

    Attributes:
        data: The output's kept tail.
        runs: ``[1 or 2, length, ...]`` over ``data`` (stdout 1, stderr 2).
        dropped: Bytes written but not kept.
        live: Bytes at the start of ``data`` already handed on as they arrived.
    """

    data: bytes
    runs: list[int]
    dropped: int
    live: int


logger = logging.getLogger(__name__)

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
        self._armed: LiveOutput | None = None  # for the next handout
        self._live: LiveOutput | None = None  # handing on now
        self._pending: list[tuple[int, bytes]] = []  # read, not yet a whole line
        self._pending_size = 0  # bounded by ``limit``: a line longer goes on in pieces
        self._written = 0  # bytes since the last take/clear
        self._handed = 0  # of which handed on

    def attach(self) -> None:
        """The runtime has its copies of the write ends: drop ours and start reading."""
        for fd in (self.stdout_fd, self.stderr_fd):
            os.close(fd)
        self.stdout_fd = self.stderr_fd = -1
        self._loop = asyncio.get_running_loop()
        for fd in self._read_fds:
            self._loop.add_reader(fd, self._read, fd)
            self._readable.add(fd)

    def arm(self, deliver: LiveOutput | None) -> None:
        """Hand what is written for the next event on to ``deliver`` as it arrives, from
        its handout (``clear``) until ``take_runs``; None stops handing on at once."""
        self._armed = deliver
        if deliver is None:
            self._live = None
            self._pending.clear()
            self._pending_size = 0

    def take(self) -> tuple[bytes, int]:
        """Everything written since the last ``take``/``clear`` (its tail), and the bytes
        of it left out."""
        taken = self.take_runs()
        return taken.data, taken.dropped

    def take_runs(self) -> TakenOutput:
        """``take``, with the runs saying which bytes came from which stream
        (``[1 or 2, length, ...]``, as ``models.function_log.output_lines`` reads them)
        and how much of it was handed on already; stops handing on."""
        self._drain()
        data = b"".join(chunk for _, chunk in self._chunks)
        not_handed = self._written - self._handed  # the newest bytes: a tail of ``data``
        taken = TakenOutput(
            data, _runs(self._chunks), self._dropped, max(0, len(data) - not_handed)
        )
        self.arm(None)
        self._reset()
        return taken

    def clear(self) -> None:
        """Forget what has been written so far: the event's handout, from which on its
        output is handed on (if ``arm`` asked for it)."""
        self._drain()
        self._reset()
        self._live = self._armed

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
        self._written += len(chunk)
        if self._live is not None:
            self._hand_on(self._live, stream, chunk)
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

    def _hand_on(self, deliver: LiveOutput, stream: int, chunk: bytes) -> None:
        """Hand on what was read up to a line's end: a pipe's read may end mid-line. What
        waits for its line's end is bounded by the tail's ``limit`` (output with no line
        break, a progress bar, goes on in pieces of that size)."""
        pending = self._pending
        pending.append((stream, chunk))
        self._pending_size += len(chunk)
        if not chunk.endswith(b"\n") and self._pending_size < self._limit:
            return
        data = b"".join(part for _, part in pending)
        runs = _runs(pending)
        pending.clear()
        self._pending_size = 0
        self._handed += len(data)
        try:
            deliver(runs, data)
        except Exception:  # a listener's failure must not stop the pipes being read
            logger.exception("handing on a custom runtime's output failed")

    def _reset(self) -> None:
        self._chunks.clear()
        self._size = 0
        self._dropped = 0
        self._written = self._handed = 0

    def _stop_reading(self, fd: int) -> None:
        self._readable.discard(fd)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(fd)


def _runs(chunks: Iterable[tuple[int, bytes]]) -> list[int]:
    """``[stream, length, ...]`` over the chunks joined, a run per change of stream."""
    runs: list[int] = []
    for stream, chunk in chunks:
        if runs and runs[-2] == stream:
            runs[-1] += len(chunk)
        else:
            runs += (stream, len(chunk))
    return runs


def runs_after(runs: Sequence[int], skipped: int) -> list[int]:
    """``runs`` (``[stream, length, ...]``) over what is left once the first ``skipped``
    bytes are cut off."""
    left: list[int] = []
    for index in range(0, len(runs) - 1, 2):
        stream, length = runs[index], runs[index + 1]
        cut = min(length, skipped)
        skipped -= cut
        if length > cut:
            left += (stream, length - cut)
    return left
