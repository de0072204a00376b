"""Secrets: the masked value callers get, the metadata a listing shows, and the envelope a
secret store keeps (ciphertext and wrapped data key only, never the plaintext).

A secret's value is a JSON value: a string, or an object such as
``{"user": "app", "password": "..."}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "SECRET_NAME",
    "SecretEnvelope",
    "SecretMetadata",
    "SecretRewrap",
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
    ciphertext). Opaque to the store."""

    name: str
    key_id: str
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes
    created_at: float
    updated_at: float
    version: int

    @property
    def metadata(self) -> SecretMetadata:
        return SecretMetadata(
            name=self.name,
            created_at=self.created_at,
            updated_at=self.updated_at,
            key_id=self.key_id,
            version=self.version,
        )


class SecretRewrap(NamedTuple):
    """One secret's data key wrapped anew, for ``ISecretStore.rewrap``; applied only if the
    stored secret is still at ``version`` (so a value replaced meanwhile is never paired
    with the wrong data key)."""

    name: str
    wrapped_key: bytes
    key_id: str
    version: int
