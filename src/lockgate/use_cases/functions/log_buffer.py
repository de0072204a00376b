"""``FunctionLogBuffer``: the last lines each function wrote, for ``lockgate logs``.

Bounded per function (the oldest lines go first), kept in memory on this gateway only, as
``sam logs`` reads what one stack wrote; followers get new lines as they arrive, through a
bounded queue each, so a slow follower loses lines (and is told how many) instead of
holding memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lockgate.models.function_log import FunctionLogLine, output_lines

__all__ = ["FunctionLogBuffer", "LogFollower", "LogQuery"]

_FOLLOW_QUEUE = 10_000


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which lines to read.

    Attributes:
        function: One function's lines, or every function's (None).
        since: Lines received at or after this time (seconds since the epoch), if set.
        request_id: One invocation's lines, if set.
        limit: At most this many, the latest.
    """

    function: str | None = None
    since: float | None = None
    request_id: str | None = None
    limit: int = 1000

    def matches(self, line: FunctionLogLine) -> bool:
        return (
            (self.function is None or line.function == self.function)
            and (self.since is None or line.time >= self.since)
            and (self.request_id is None or line.request_id == self.request_id)
        )


class LogFollower:
    """New matching lines as they arrive (an ``int`` says how many were lost because the
    follower fell behind), until ``close``. Registered when made, so no line added after
    a ``read`` and before the first ``await`` is missed."""

    def __init__(self, query: LogQuery, followers: set[LogFollower]) -> None:
        self.query = query
        self._queue: asyncio.Queue[FunctionLogLine] = asyncio.Queue(_FOLLOW_QUEUE)
        self._lost = 0
        self._followers = followers
        followers.add(self)

    def offer(self, line: FunctionLogLine) -> None:
        try:
            self._queue.put_nowait(line)
        except asyncio.QueueFull:
            self._lost += 1

    def close(self) -> None:
        self._followers.discard(self)

    def __aiter__(self) -> AsyncIterator[FunctionLogLine | int]:
        return self

    async def __anext__(self) -> FunctionLogLine | int:
        if self._lost:
            lost, self._lost = self._lost, 0
            return lost
        return await self._queue.get()


class _Output(NamedTuple):
    """Part of one invocation's output as it came, cut into lines only when read: the hot
    path keeps bytes and does no parsing."""

    time: float
    request_id: str
    data: bytes
    runs: Sequence[int]
    size: int  # the lines it counts for against the bound (its line breaks)


def _size_of(entry: FunctionLogLine | _Output) -> int:
    return entry.size if isinstance(entry, _Output) else 1


class FunctionLogBuffer:
    """The latest ``lines_per_function`` lines of each function.

    Args:
        lines_per_function: Lines kept per function.
    """

    def __init__(self, lines_per_function: int = 2000) -> None:
        self._size = lines_per_function
        self._entries: dict[str, deque[FunctionLogLine | _Output]] = {}
        self._counts: dict[str, int] = {}
        self._followers: set[LogFollower] = set()

    def add(self, function: str, lines: Iterable[FunctionLogLine]) -> None:
        """Keep lines already cut."""
        lines = tuple(lines)
        for line in lines:
            self._keep(function, line, 1)
        if self._followers:
            self._offer(lines)

    def add_output(
        self, function: str, time: float, request_id: str, data: bytes, runs: Sequence[int] = ()
    ) -> None:
        """Keep raw output (see ``models.function_log.output_lines`` for ``runs``)."""
        if not data:
            return
        entry = _Output(time, request_id, data, runs, data.count(b"\n") or 1)
        self._keep(function, entry, entry.size)
        if self._followers:
            self._offer(_lines_of(function, entry))

    def _keep(self, function: str, entry: FunctionLogLine | _Output, size: int) -> None:
        kept = self._entries.get(function)
        if kept is None:
            kept = self._entries[function] = deque()
            self._counts[function] = 0
        kept.append(entry)
        count = self._counts[function] + size
        while count > self._size and len(kept) > 1:
            count -= _size_of(kept.popleft())
        self._counts[function] = count

    def _offer(self, lines: Sequence[FunctionLogLine]) -> None:
        for follower in tuple(self._followers):
            for line in lines:
                if follower.query.matches(line):
                    follower.offer(line)

    def forget(self, function: str) -> None:
        """Drop a removed function's lines."""
        self._entries.pop(function, None)
        self._counts.pop(function, None)

    def read(self, query: LogQuery) -> list[FunctionLogLine]:
        """The latest ``query.limit`` matching lines, oldest first."""
        functions = list(self._entries) if query.function is None else [query.function]
        found: list[FunctionLogLine] = []
        for function in functions:
            for entry in self._entries.get(function, ()):
                if isinstance(entry, _Output):
                    if (query.since is not None and entry.time < query.since) or (
                        query.request_id is not None and entry.request_id != query.request_id
                    ):
                        continue
                    found += _lines_of(function, entry)
                elif query.matches(entry):
                    found.append(entry)
        if query.function is None:
            found.sort(key=lambda line: line.time)  # stable: a call's lines keep their order
        return found[-query.limit :] if query.limit > 0 else []

    def follow(self, query: LogQuery) -> LogFollower:
        """Lines matching ``query`` from now on; ``close`` the follower when done."""
        return LogFollower(query, self._followers)


def _lines_of(function: str, entry: _Output) -> list[FunctionLogLine]:
    return [
        FunctionLogLine(entry.time, function, entry.request_id, stream, text)
        for stream, text in output_lines(entry.data, entry.runs)
    ]
