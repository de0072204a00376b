"""JSON for the worker: orjson when the interpreter has it, the standard library otherwise.

The worker decodes every invocation's frame and event and encodes its result and reply frame;
orjson does it
several times faster. Importing orjson takes ~20 ms, so a worker starts on the standard
library and loads orjson in a background thread once it is ready: cold starts stay short.

Handler results are compact JSON whichever encoder runs, so a function answers with the same
bytes on its first call and every later one. They keep json.dumps's semantics where the two
differ: types json.dumps refuses (datetime, dataclasses, subclasses) go through ``default``
as they would there, and what orjson refuses (non-string keys, integers past 64 bits) is left
to json.dumps itself.
"""

from __future__ import annotations

import json
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a worker ~15 ms to import
    from collections.abc import Callable
    from typing import Any

__all__ = ["dumps", "dumps_result", "loads", "upgrade_in_background"]

_ORJSON = False
orjson: Any = None


def upgrade_in_background() -> None:
    """Start loading orjson; every call after it has loaded uses it."""
    threading.Thread(target=_upgrade, name="lockgate-orjson", daemon=True).start()


def _upgrade() -> None:
    global _ORJSON, orjson  # noqa: PLW0603 - swapped once, from one thread
    try:
        import orjson as loaded  # noqa: PLC0415
    except ImportError:  # a worker interpreter without orjson still works, only slower
        return
    orjson = loaded
    _ORJSON = True


def loads(data: bytes | bytearray | memoryview) -> Any:
    if _ORJSON:
        return orjson.loads(data)
    return json.loads(bytes(data))


def dumps(value: Any) -> bytes:
    """Compact JSON of plain data (frame metadata)."""
    if _ORJSON:
        encoded: bytes = orjson.dumps(value)
        return encoded
    return json.dumps(value, separators=(",", ":")).encode()


def dumps_result(value: Any, default: Callable[[Any], Any]) -> bytes:
    """A handler's return value, compact; TypeError or ValueError when it is not JSON."""
    if _ORJSON:
        try:
            encoded: bytes = orjson.dumps(
                value,
                default=default,
                option=orjson.OPT_PASSTHROUGH_DATETIME
                | orjson.OPT_PASSTHROUGH_DATACLASS
                | orjson.OPT_PASSTHROUGH_SUBCLASS,
            )
            return encoded
        except orjson.JSONEncodeError:
            pass  # e.g. non-string keys, which json.dumps converts: let it decide
    return json.dumps(value, default=default, separators=(",", ":")).encode()
