"""``InMemorySecretStore``: envelopes in a dict, for tests and the embedded default.

Every method runs to its end without awaiting, so on one event loop a write and a rotation
cannot interleave: each is atomic, as a transaction is in the database stores.
"""

from __future__ import annotations

import builtins
from collections import Counter

from lockgate.errors import SecretStoreError
from lockgate.gateways.stores.secrets.keyring import checked_key, rewrapped
from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
)

__all__ = ["InMemorySecretStore"]


class InMemorySecretStore:
    """Keeps envelopes (never plaintext) in memory; lost when the process ends."""

    def __init__(self) -> None:
        self._secrets: dict[str, SecretEnvelope] = {}
        self._current_key_id: str | None = None

    def __repr__(self) -> str:
        return f"InMemorySecretStore({len(self._secrets)} secrets)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def put(self, name: str, seal: SealSecret) -> SecretEnvelope:
        previous = self._secrets.get(name)
        envelope = seal(None if previous is None else previous.metadata)
        if envelope.name != name:
            raise SecretStoreError(f"envelope of {envelope.name!r} put under {name!r}")
        others = (
            [e.key_id for e in self._secrets.values() if e.key_id != envelope.key_id]
            if self._current_key_id is None
            else []
        )
        self._current_key_id = checked_key(self._current_key_id, envelope, others)
        self._secrets[name] = envelope
        return envelope

    async def get(self, name: str) -> SecretEnvelope | None:
        return self._secrets.get(name)

    async def delete(self, name: str) -> bool:
        return self._secrets.pop(name, None) is not None

    async def list(self) -> builtins.list[SecretMetadata]:
        return [self._secrets[name].metadata for name in sorted(self._secrets)]

    async def key_state(self) -> SecretKeyState:
        counts = Counter((e.key_id, e.previous_key_id) for e in self._secrets.values())
        return SecretKeyState(
            self._current_key_id,
            tuple(
                (k, p, n)
                for (k, p), n in sorted(counts.items(), key=lambda c: (c[0][0], c[0][1] or ""))
            ),
        )

    async def rewrap_all(self, key_id: str, rewrap: RewrapDataKey, *, keep_previous: bool) -> int:
        # Computed in full before anything changes: a failing rewrap leaves all as it was.
        updated = {
            name: rewrapped(envelope, key_id, rewrap(envelope), keep_previous=keep_previous)
            for name, envelope in self._secrets.items()
        }
        self._secrets.update(updated)
        self._current_key_id = key_id
        return len(updated)
