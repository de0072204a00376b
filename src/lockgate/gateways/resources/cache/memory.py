"""``InMemoryCache``: the embedded default ``cache`` resource, shaped like ``redis.asyncio``.

Step code written against a Redis cache (``await cache.setex(key, 300, json.dumps(v))``)
must run unchanged when the gateway has no Redis, so this class speaks the same async subset
and returns what Redis returns with ``decode_responses=True``: strings (an int stored comes
back as ``"3"``), ``None`` for a missing key, the same integer codes from ``ttl`` and the same
``redis.exceptions`` for the same mistakes.

Memory is bounded twice over: expired keys are dropped as their deadlines pass (a heap of
deadlines, not a sleeping task per key), and past ``max_entries`` the least recently used key
is evicted, as Redis does with ``maxmemory-policy allkeys-lru``.
"""

from __future__ import annotations

import datetime
import fnmatch
import heapq
import itertools
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import DataError, ResponseError

__all__ = ["InMemoryCache"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# What Redis's string2ll accepts: no sign but "-", no leading zeros or spaces.
_INTEGER = re.compile(r"0|-?[1-9][0-9]*")


@dataclass(slots=True)
class _Entry:
    value: str
    expires_at: float | None = None
    # Which heap item is this entry's deadline: older items for the key are stale.
    deadline_id: int = 0


def _text(value: Any) -> str:
    """A key or value as redis-py encodes it and Redis returns it decoded."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    if isinstance(value, bool):  # before int: bool is an int, and redis-py refuses it
        raise DataError(
            "Invalid input of type: 'bool'. Convert to a bytes, string, int or float first."
        )
    if isinstance(value, int | float):
        return repr(value)
    raise DataError(
        f"Invalid input of type: '{type(value).__name__}'. "
        "Convert to a bytes, string, int or float first."
    )


def _seconds(value: int | datetime.timedelta, name: str) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{name} must be datetime.timedelta or int")
    return value


def _milliseconds(value: int | datetime.timedelta) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError("px must be datetime.timedelta or int")
    return value


def _names(keys: Any, args: Iterable[Any]) -> list[Any]:
    """redis-py's ``list_or_args``: ``mget(["a", "b"])`` and ``mget("a", "b")`` alike."""
    if isinstance(keys, str | bytes | bytearray | memoryview):
        names = [keys]
    else:
        try:
            names = list(keys)
        except TypeError:
            names = [keys]
    names.extend(args)
    return names


class InMemoryCache:
    """A process-local key/value cache with Redis's async API (the subset steps use).

    Args:
        namespace: A label for ``repr`` and logs; two caches never share data whatever
            their namespaces (the resolver creates one per distinct reference).
        max_entries: The most keys kept; past it the least recently used key is evicted.
        clock: Monotonic seconds; injected by tests to move time by hand.

    Note:
        Safe under concurrency on one event loop: no method awaits anything, so each runs
        to completion before another starts (``incr`` is atomic, as in Redis). Not
        thread-safe. ``keys`` matches with ``fnmatch`` (``*``, ``?``, ``[abc]``, ``[^a]``).
    """

    def __init__(
        self,
        *,
        namespace: str = "",
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.namespace = namespace
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._deadlines: list[tuple[float, int, str]] = []
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        label = f"namespace={self.namespace!r}, " if self.namespace else ""
        return f"InMemoryCache({label}{len(self._entries)}/{self.max_entries} keys)"

    def __len__(self) -> int:
        self._purge()
        return len(self._entries)

    # -- bookkeeping ---------------------------------------------------------------------

    def _purge(self) -> None:
        """Drop every key whose deadline has passed (so every live key below is valid)."""
        now = self._clock()
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, deadline_id, key = heapq.heappop(deadlines)
            entry = self._entries.get(key)
            if entry is not None and entry.deadline_id == deadline_id:
                del self._entries[key]

    def _expire_at(self, key: str, entry: _Entry, expires_at: float | None) -> None:
        entry.expires_at = expires_at
        if expires_at is None:
            entry.deadline_id = 0  # any heap item left for this key is now stale
            return
        entry.deadline_id = next(self._ids)
        heapq.heappush(self._deadlines, (expires_at, entry.deadline_id, key))
        # Overwritten deadlines stay in the heap until they pass; rebuild when they dominate.
        if len(self._deadlines) > 2 * len(self._entries) + 64:
            self._deadlines = [
                (e.expires_at, e.deadline_id, k)
                for k, e in self._entries.items()
                if e.expires_at is not None
            ]
            heapq.heapify(self._deadlines)

    def _store(self, key: str, value: str, expires_at: float | None, *, keep_ttl: bool) -> None:
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(value)
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            entry.value = value
            self._entries.move_to_end(key)
            if keep_ttl:
                return
        self._expire_at(key, entry, expires_at)

    def _read(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    # -- strings -------------------------------------------------------------------------

    async def get(self, name: Any) -> str | None:
        """The value of ``name``, or None when it is missing or expired."""
        self._purge()
        entry = self._read(_text(name))
        return None if entry is None else entry.value

    async def set(  # noqa: PLR0917  # positional like redis-py: set("k", "v", 60)
        self,
        name: Any,
        value: Any,
        ex: int | datetime.timedelta | None = None,
        px: int | datetime.timedelta | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
    ) -> bool | str | None:
        """Store ``value`` (as its string form), like Redis ``SET``.

        Args:
            name: The key.
            value: A str, bytes, int or float.
            ex: Expire after this many seconds.
            px: Expire after this many milliseconds.
            nx: Only set when the key does not exist.
            xx: Only set when the key exists.
            keepttl: Keep the key's current expiry.
            get: Return the previous value instead of True/None.

        Returns:
            True when stored, None when ``nx``/``xx`` prevented it; with ``get``, the
            previous value (or None).

        Raises:
            DataError: A value of another type, or exclusive options together.
            ResponseError: A non-positive expiry.
        """
        if sum((ex is not None, px is not None, keepttl)) > 1:
            raise DataError(
                "``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive."
            )
        if nx and xx:
            raise DataError(
                "``nx``, ``xx``, ``ifeq``, ``ifne``, ``ifdeq``, ``ifdne`` are mutually exclusive."
            )
        text = _text(value)
        ttl: float | None = None
        if ex is not None:
            ttl = float(_seconds(ex, "ex"))
        elif px is not None:
            ttl = _milliseconds(px) / 1000
        if ttl is not None and ttl <= 0:
            raise ResponseError("invalid expire time in 'set' command")
        self._purge()
        key = _text(name)
        current = self._entries.get(key)
        previous = None if current is None else current.value
        if (nx and current is not None) or (xx and current is None):
            return previous if get else None
        expires_at = None if ttl is None else self._clock() + ttl
        self._store(key, text, expires_at, keep_ttl=keepttl)
        return previous if get else True

    async def setex(self, name: Any, time: int | datetime.timedelta, value: Any) -> bool:
        """Store ``value`` for ``time`` seconds, like Redis ``SETEX``.

        Raises:
            ResponseError: ``time`` is not positive.
        """
        seconds = _seconds(time, "time")
        text = _text(value)
        if seconds <= 0:
            raise ResponseError("invalid expire time in 'setex' command")
        self._purge()
        self._store(_text(name), text, self._clock() + seconds, keep_ttl=False)
        return True

    async def mget(self, keys: Any, *args: Any) -> list[str | None]:
        """The values of several keys, in order, None for each missing one."""
        self._purge()
        values: list[str | None] = []
        for name in _names(keys, args):
            entry = self._read(_text(name))
            values.append(None if entry is None else entry.value)
        return values

    async def incr(self, name: Any, amount: int = 1) -> int:
        """Add ``amount`` to the integer stored at ``name`` (0 when missing); keeps its TTL.

        Raises:
            ResponseError: The value is not an integer, or the result leaves 64 bits.
        """
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ResponseError("value is not an integer or out of range")
        self._purge()
        key = _text(name)
        entry = self._entries.get(key)
        current = 0
        if entry is not None:
            if not _INTEGER.fullmatch(entry.value) or not (
                _INT64_MIN <= int(entry.value) <= _INT64_MAX
            ):
                raise ResponseError("value is not an integer or out of range")
            current = int(entry.value)
        result = current + amount
        if not _INT64_MIN <= result <= _INT64_MAX:
            raise ResponseError("increment or decrement would overflow")
        self._store(key, str(result), None, keep_ttl=True)
        return result

    async def incrby(self, name: Any, amount: int = 1) -> int:
        """``incr`` by ``amount`` (redis-py's alias)."""
        return await self.incr(name, amount)

    # -- keys ----------------------------------------------------------------------------

    async def delete(self, *names: Any) -> int:
        """Remove keys; returns how many existed."""
        if not names:
            raise ResponseError("wrong number of arguments for 'del' command")
        self._purge()
        return sum(self._entries.pop(_text(name), None) is not None for name in names)

    async def exists(self, *names: Any) -> int:
        """How many of ``names`` exist (a key named twice counts twice, as in Redis)."""
        if not names:
            raise ResponseError("wrong number of arguments for 'exists' command")
        self._purge()
        return sum(_text(name) in self._entries for name in names)

    async def expire(self, name: Any, time: int | datetime.timedelta) -> bool:
        """Expire ``name`` after ``time`` seconds (at once when not positive).

        Returns:
            False when the key does not exist.
        """
        seconds = _seconds(time, "time")
        self._purge()
        key = _text(name)
        entry = self._entries.get(key)
        if entry is None:
            return False
        if seconds <= 0:
            del self._entries[key]
        else:
            self._expire_at(key, entry, self._clock() + seconds)
        return True

    async def ttl(self, name: Any) -> int:
        """Seconds ``name`` has left (rounded), -1 when it never expires, -2 when missing."""
        self._purge()
        entry = self._entries.get(_text(name))
        if entry is None:
            return -2
        if entry.expires_at is None:
            return -1
        return int(entry.expires_at - self._clock() + 0.5)

    async def keys(self, pattern: Any = "*") -> list[str]:
        """Every live key matching the glob ``pattern`` (case-sensitive)."""
        self._purge()
        glob = _text(pattern).replace("[^", "[!")
        return [key for key in self._entries if fnmatch.fnmatchcase(key, glob)]

    async def flushdb(self) -> bool:
        """Remove every key."""
        self._entries.clear()
        self._deadlines.clear()
        return True

    # -- connection ----------------------------------------------------------------------

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        """Release the data. Idempotent; a closed cache is empty but still usable."""
        await self.flushdb()
