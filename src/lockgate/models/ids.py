"""Request ids: UUID-4-shaped, as AWS spells them, made without a system call.

A random prefix, drawn once per process from the OS, and a counter: unique within the
process, unique across processes and restarts with overwhelming probability, and about
ten times cheaper than ``uuid.uuid4()`` (which reads ``os.urandom`` every time).
"""

from __future__ import annotations

import itertools
import os
import time

__all__ = ["new_request_id", "new_run_id"]

_random = os.urandom(10).hex()
# 8-4-4 hex digits with the version nibble set to 4, then the variant nibble (8-b).
_PREFIX = f"{_random[:8]}-{_random[8:12]}-4{_random[13:16]}-{'89ab'[int(_random[16], 16) & 3]}"
# Starts at a random point, so ids do not tell how many requests came before.
_counter = itertools.count((int(_random[17:20], 16) << 48) | int.from_bytes(os.urandom(6)))


def new_request_id() -> str:
    value = next(_counter) & 0xFFF_FFFF_FFFF_FFFF  # 15 hex digits: 3 in group 4, 12 in group 5
    digits = f"{value:015x}"
    return f"{_PREFIX}{digits[:3]}-{digits[3:]}"


_run_suffix = itertools.count(int.from_bytes(os.urandom(4)))
_run_prefix = os.urandom(3).hex()


def new_run_id() -> str:
    """A run id that sorts by creation time: 13 hex digits of microseconds, then 14 of
    process prefix and counter. Ids created in order land at the right edge of the run
    store's indexes, so a commit dirties a few pages instead of one per index at random."""
    return f"{time.time_ns() // 1000:013x}{_run_prefix}{next(_run_suffix) & 0xFFFFFFFF:08x}"
