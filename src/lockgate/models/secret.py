"""Secrets: the masked value callers get, the metadata a listing shows, and the envelope a
secret store keeps (ciphertext and wrapped data key only, never the plaintext).

A secret's value is a JSON value: a string, or an object such as
``{"user": "app", "password": "..."}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "SECRET_NAME",
    "RewrapDataKey",
    "SealSecret",
    "SecretEnvelope",
    "SecretKeyState",
    "SecretMetadata",
    "SecretValue",
]

SECRET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,127}")
"""What a secret's name may be: letters, digits, ``_ . - /``, up to 128 characters."""


class SecretValue:
    """A decrypted secret value that never shows itself: ``repr``, ``str`` and format give
    ``***``; ``reveal()`` returns the JSON value."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def reveal(self) -> Any:
        """The value itself (a string, or a JSON object, list or number)."""
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return bool(self._value == other._value)

    __hash__ = None  # type: ignore[assignment]  # values may be dicts; equality is by value

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Pickling would carry the plaintext into queues, caches and worker pipes unseen.
        raise TypeError("a SecretValue cannot be pickled; pass reveal() explicitly")


@dataclass(frozen=True, slots=True)
class SecretMetadata:
    """What a listing shows about a secret: never its value.

    Attributes:
        name: The secret's name.
        created_at, updated_at: Wall-clock times (seconds since the epoch).
        key_id: The id of the master key that wraps its data key.
        version: 1 for the first value, one more for every replacement.
    """

    name: str
    created_at: float
    updated_at: float
    key_id: str
    version: int


@dataclass(frozen=True, slots=True)
class SecretEnvelope:
    """A secret as stored: AES-GCM ciphertext under a fresh data key, and that data key
    wrapped by the master key ``key_id`` (``wrapped_key`` = the wrap's nonce + its
    ciphertext). Opaque to the store.

    After a rotation that keeps the old key readable, ``previous_key_id`` and
    ``previous_wrapped_key`` hold the same data key wrapped by the key it replaced, so
    gateways still running with that key keep reading until it is retired.
    """

    name: str
    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes
    created_at: float
    updated_at: float
    version: int
    previous_key_id: str | None = None
    previous_wrapped_key: bytes | None = None

    @property
    def metadata(self) -> SecretMetadata:
        return SecretMetadata(
            name=self.name,
            created_at=self.created_at,
            updated_at=self.updated_at,
            key_id=self.key_id,
            version=self.version,
        )


@dataclass(frozen=True, slots=True)
class SecretKeyState:
    """Which master keys a secret store's contents are under (ids only, never keys).

    Attributes:
        current_key_id: The master key every write must be sealed with; None while the
            store has never been written (the first write sets it).
        wrappings: ``(key_id, previous_key_id, count)`` for each combination stored:
            how many secrets are wrapped by ``key_id`` and, kept from the last rotation,
            also by ``previous_key_id`` (None when retired or never rotated).
    """

    current_key_id: str | None
    wrappings: tuple[tuple[str, str | None, int], ...] = ()

    @property
    def count(self) -> int:
        """How many secrets the store holds."""
        return sum(count for _, _, count in self.wrappings)

    def unreadable_by(self, key_id: str) -> int:
        """How many secrets the master key ``key_id`` opens by neither wrapping."""
        return sum(
            count
            for current, previous, count in self.wrappings
            if key_id not in (current, previous)
        )

    def foreign_key_ids(self, key_id: str) -> list[str]:
        """The ids of the keys wrapping the secrets ``key_id`` cannot open, sorted."""
        return sorted(
            {
                current
                for current, previous, _ in self.wrappings
                if key_id not in (current, previous)
            }
        )

    @property
    def previous_key_ids(self) -> list[str]:
        """The ids of the old keys still kept as previous wrappings, sorted."""
        return sorted({previous for _, previous, _ in self.wrappings if previous is not None})


SealSecret: TypeAlias = Callable[[SecretMetadata | None], SecretEnvelope]
"""Given the metadata of the secret being replaced (None for a new one), the new envelope:
what ``ISecretStore.put`` calls inside its transaction."""

RewrapDataKey: TypeAlias = Callable[[SecretEnvelope], bytes]
"""Given a stored envelope, its data key wrapped by the new master key: what
``ISecretStore.rewrap_all`` calls for each secret inside its transaction."""
