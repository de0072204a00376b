"""Request ids: UUID-4-shaped, as AWS spells them, made without a system call.

``uuid.uuid4()`` reads ``os.urandom`` on every call; request ids need to be unique, not
secret, so the process's seeded PRNG serves, and every request saves a system call.
"""

from __future__ import annotations

import random

__all__ = ["new_request_id"]

_bits = random.Random().getrandbits  # noqa: S311 - unique, not secret; seeded from the OS


def new_request_id() -> str:
    digits = f"{_bits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"
