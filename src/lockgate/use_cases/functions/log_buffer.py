"""``FunctionLogBuffer``: the last lines each function wrote, for ``lockgate logs``.

Bounded per function (the oldest lines go first), kept in memory on this gateway only, as
``sam logs`` reads what one stack wrote; followers get new lines as they arrive, through a
bounded queue each, so a slow follower loses lines (and is told how many) instead of
holding memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from lockgate.models.function_log import FunctionLogLine

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


class FunctionLogBuffer:
    """The latest ``lines_per_function`` lines of each function.

    Args:
        lines_per_function: Lines kept per function.
    """

    def __init__(self, lines_per_function: int = 2000) -> None:
        self._size = lines_per_function
        self._lines: dict[str, deque[FunctionLogLine]] = {}
        self._followers: set[LogFollower] = set()

    def add(self, function: str, lines: Iterable[FunctionLogLine]) -> None:
        kept = self._lines.get(function)
        if kept is None:
            kept = self._lines[function] = deque(maxlen=self._size)
        if not self._followers:
            kept.extend(lines)
            return
        lines = tuple(lines)
        kept.extend(lines)
        for follower in tuple(self._followers):
            for line in lines:
                if follower.query.matches(line):
                    follower.offer(line)

    def forget(self, function: str) -> None:
        """Drop a removed function's lines."""
        self._lines.pop(function, None)

    def read(self, query: LogQuery) -> list[FunctionLogLine]:
        """The latest ``query.limit`` matching lines, oldest first."""
        if query.function is not None:
            sources: Iterable[deque[FunctionLogLine]] = (
                [self._lines[query.function]] if query.function in self._lines else []
            )
        else:
            sources = self._lines.values()
        found = [line for kept in sources for line in kept if query.matches(line)]
        if query.function is None:
            found.sort(key=lambda line: line.time)
        return found[-query.limit :] if query.limit > 0 else []

    def follow(self, query: LogQuery) -> LogFollower:
        """Lines matching ``query`` from now on; ``close`` the follower when done."""
        return LogFollower(query, self._followers)
