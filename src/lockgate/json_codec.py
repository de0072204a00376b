"""Strict JSON for what the run store keeps: a value that would not come back the same
(a set, a datetime, a dataclass, a non-string key) is refused rather than quietly changed,
because a resumed run reads its checkpoints back and must see what the step returned."""

from __future__ import annotations

import math
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

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
    raise TypeError(f"{type(value).__name__!r} is not a JSON type")


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """JSON text of ``value`` (keys sorted with ``sort_keys``, for fingerprints).

    Raises:
        TypeError: ``value`` holds something that is not a JSON value (NaN and the
            infinities included); the message names its type.
    """
    try:
        text = orjson.dumps(
            value, default=_refuse, option=_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
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
