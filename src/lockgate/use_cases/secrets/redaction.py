"""Replacing secret values with ``***`` in what the gateway stores, returns and logs.

Two sources of values: a run's own (the credentials behind the resources it resolved,
``RunResources.secret_strings``), applied to each step's result and error; and every value
this process has decrypted (``REVEALED``, fed by the secret backends), applied to each log
line by ``controllers.log_setup``. Only strings of ``MIN_SECRET_LENGTH`` characters or more
count: shorter ones would blank out ordinary words. One compiled alternation, longest value
first, does each replacement, and nothing is scanned at all while there are no values.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from lockgate import json_codec

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "REVEALED",
    "Redactor",
    "RevealedSecrets",
    "redactor_for",
    "run_redactor",
    "secret_strings",
]

MASK = "***"
MIN_SECRET_LENGTH = 8
_FEW = 8  # values searched one by one in a result's JSON text
# Keys whose values name an account rather than prove it (as the resource registry treats
# them): an error may show a user name, and blanking it would hide which account failed.
_NOT_SECRET = frozenset({"user", "username"})


def secret_strings(value: Any) -> tuple[str, ...]:
    """The strings in a secret's value worth redacting: the value itself when it is a
    string, else each string inside its objects and lists (not under ``user`` or
    ``username``), when ``MIN_SECRET_LENGTH`` characters or longer.

    Args:
        value: A secret's JSON value.

    Returns:
        The strings, in the order met.
    """
    if isinstance(value, str):
        return (value,) if len(value) >= MIN_SECRET_LENGTH else ()
    if isinstance(value, Mapping):
        return tuple(s for k, v in value.items() if k not in _NOT_SECRET for s in secret_strings(v))
    if isinstance(value, list | tuple):
        return tuple(s for v in value for s in secret_strings(v))
    return ()


class Redactor:
    """Replaces each of a fixed set of values with ``***`` wherever it occurs.

    Args:
        values: The strings to hide; shorter than ``MIN_SECRET_LENGTH`` ones are ignored.
    """

    __slots__ = ("_escaped", "_escaped_values", "_pattern", "_size")

    def __init__(self, values: Iterable[str]) -> None:
        # Longest first: where one value contains another, the whole of it is hidden.
        ordered = sorted(
            {v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=lambda v: (-len(v), v)
        )
        self._size = len(ordered)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        # What each value looks like inside JSON text (quotes and control characters
        # escaped): a result whose JSON holds none of these holds none of the values.
        # A few are looked for one by one (bytes.find is several times faster than an
        # alternation in re, which has no multi-literal search); many, by the pattern.
        self._escaped_values = tuple(json_codec.dumps(v)[1:-1] for v in ordered)
        self._escaped = (
            re.compile(b"|".join(map(re.escape, self._escaped_values)))
            if len(ordered) > _FEW
            else None
        )

    def __repr__(self) -> str:  # never the values
        return f"Redactor({self._size} values)"

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every value replaced by ``***`` (the same object when none
        occurs)."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """A JSON value with every value replaced in its strings and its objects' keys
        (as substrings too); other types are returned as they are."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def output(self, value: Any, output_json: bytes) -> tuple[Any, bytes]:
        """A step's result and its JSON text, redacted: as given when the JSON holds no
        value (one scan of the text), else walked and encoded again."""
        if not self._holds(output_json):
            return value, output_json
        redacted = self.value(value)
        return redacted, json_codec.dumps(redacted)

    def _holds(self, output_json: bytes) -> bool:
        if self._escaped is not None:
            return self._escaped.search(output_json) is not None
        return any(escaped in output_json for escaped in self._escaped_values)


@lru_cache(maxsize=256)
def _cached(values: tuple[str, ...]) -> Redactor:
    return Redactor(values)


def redactor_for(values: Iterable[str]) -> Redactor:
    """A ``Redactor`` for ``values``, shared with every caller asking for the same set (runs
    on the same resources compile their pattern once)."""
    return _cached(tuple(sorted(set(values))))


_NOTHING = Redactor(())


def run_redactor(lookup: object) -> Redactor:
    """The ``Redactor`` for the secrets a run has used so far, ``lookup`` being its resource
    lookup: a ``RunResources`` (``secret_strings()``); any other lookup knows none, and
    hides nothing.

    Looked up by attribute, not by ``isinstance`` against a runtime Protocol: this runs
    after every step, and such a check costs ~10 µs.
    """
    strings = getattr(lookup, "secret_strings", None)
    if strings is None:
        return _NOTHING
    values: tuple[str, ...] = strings()
    return redactor_for(values) if values else _NOTHING


class RevealedSecrets:
    """The values this process has decrypted, for scrubbing log lines; thread-safe (log
    records are emitted from any thread).

    Args:
        limit: Values kept at most; past it the oldest are forgotten (a bound on memory for
            a process that reads ever-new values; a forgotten value is one that was replaced
            long ago).
    """

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._values: dict[str, None] = {}
        self._lock = threading.Lock()
        self._redactor = Redactor(())

    def __repr__(self) -> str:
        return f"RevealedSecrets({len(self._values)} values)"

    def add(self, value: Any) -> None:
        """Remember the strings of a decrypted secret's value (``secret_strings``)."""
        strings = [s for s in secret_strings(value) if s not in self._values]
        if not strings:
            return
        with self._lock:
            for string in strings:
                self._values[string] = None
            while len(self._values) > self._limit:
                del self._values[next(iter(self._values))]
            self._redactor = Redactor(self._values)

    @property
    def redactor(self) -> Redactor:
        """Hides every remembered value (falsy while there are none)."""
        return self._redactor

    def clear(self) -> None:
        """Forget every value (tests)."""
        with self._lock:
            self._values.clear()
            self._redactor = Redactor(())


REVEALED = RevealedSecrets()
"""Every value the gateway's secret backends have decrypted in this process."""
