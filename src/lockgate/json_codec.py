"""Strict JSON for what the run store keeps: a value that would not come back the same
(a set, a datetime, a dataclass, a non-string key) is refused rather than quietly changed,
because a resumed run reads its checkpoints back and must see what the step returned."""

from __future__ import annotations

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
    raise TypeError(f"{type(value).__name__!r} is not a JSON type")


def dumps(value: Any) -> bytes:
    """JSON text of ``value``.

    Raises:
        TypeError: ``value`` holds something that is not a JSON value; the message names
            its type.
    """
    try:
        return orjson.dumps(value, default=_refuse, option=_OPTIONS)
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ or exc
        raise TypeError(str(cause)) from None


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
