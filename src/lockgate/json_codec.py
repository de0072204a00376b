"""Strict JSON for what the run store keeps: a value that would not come back the same
(a set, a datetime, a dataclass, a non-string key) is refused rather than quietly changed,
because a resumed run reads its checkpoints back and must see what the step returned.

Rows are the exception: a database row (asyncpg's ``Record``, ``sqlite3.Row``) is a mapping
of column to value whose only JSON reading is an object, so it becomes one (the seeds
return ``await conn.fetch(query)`` as a step's result). Whoever keeps the value in memory
then reads the JSON back (``dumps_converted`` says when), so a later step sees the same
shape in the run that made it as in a resumed one."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import orjson

__all__ = ["dumps", "dumps_converted", "loads"]

# Without these flags orjson would turn dataclasses, datetimes and str/int subclasses into
# JSON silently; with them they reach _refuse.
_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    # A dict or list subclass (an HTTP client's awaitable JSON body) reads back equal.
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if _is_row(value):
        return {key: value[key] for key in value.keys()}  # noqa: SIM118 (rows iterate values)
    raise TypeError(f"{type(value).__name__!r} is not a JSON type")


def _is_row(value: Any) -> bool:
    """A mapping, or a database row (``Record``, ``sqlite3.Row``): neither is a ``Mapping``
    subclass, but both have ``keys()`` and look values up by column name."""
    if isinstance(value, Mapping):
        return True
    return callable(getattr(value, "keys", None)) and hasattr(value, "__getitem__")


class _Converted:
    """Notes whether ``_refuse`` turned a row (or any non-dict mapping) into an object."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = False

    def __call__(self, value: Any) -> Any:
        converted = _refuse(value)
        if not isinstance(value, dict | list):
            self.rows = True
        return converted


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """JSON text of ``value`` (keys sorted with ``sort_keys``, for fingerprints).

    Raises:
        TypeError: ``value`` holds something that is not a JSON value (NaN and the
            infinities included); the message names its type.
    """
    return _dumps(value, sort_keys, _refuse)


def dumps_converted(value: Any) -> tuple[bytes, bool]:
    """``dumps(value)``, and whether a row or another non-dict mapping in it became an
    object: then ``loads`` of the text, not ``value``, is what a reader of the JSON sees.

    Raises:
        TypeError: As ``dumps``.
    """
    converted = _Converted()
    return _dumps(value, False, converted), converted.rows


def _dumps(value: Any, sort_keys: bool, default: Callable[[Any], Any]) -> bytes:
    try:
        text = orjson.dumps(
            value, default=default, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
        )
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ or exc
        raise TypeError(str(cause)) from None
    # orjson writes NaN and the infinities as null; a null in the text is the only sign.
    if b"null" in text and _has_non_finite(value):
        raise TypeError("NaN and infinite numbers are not JSON values")
    return text


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(item) for item in value)
    return False


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
