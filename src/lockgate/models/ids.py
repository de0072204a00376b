"""Request ids: UUID-4-shaped, as AWS spells them, made without a system call.

A random prefix, drawn once per process from the OS, and a counter: unique within the
process, unique across processes and restarts with overwhelming probability, and about
ten times cheaper than ``uuid.uuid4()`` (which reads ``os.urandom`` every time).
"""

from __future__ import annotations

import itertools
import os

__all__ = ["new_request_id"]

_random = os.urandom(10).hex()
# 8-4-4 hex digits with the version nibble set to 4, then the variant nibble (8-b).
_PREFIX = f"{_random[:8]}-{_random[8:12]}-4{_random[13:16]}-{'89ab'[int(_random[16], 16) & 3]}"
# Starts at a random point, so ids do not tell how many requests came before.
_counter = itertools.count((int(_random[17:20], 16) << 48) | int.from_bytes(os.urandom(6)))


def new_request_id() -> str:
    value = next(_counter) & 0xFFF_FFFF_FFFF_FFFF  # 15 hex digits: 3 in group 4, 12 in group 5
    digits = f"{value:015x}"
    return f"{_PREFIX}{digits[:3]}-{digits[3:]}"
