"""``InMemorySecretStore``: envelopes in a dict, for tests and the embedded default."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import replace

from lockgate.errors import SecretStoreError
from lockgate.models.secret import SecretEnvelope, SecretMetadata, SecretRewrap

__all__ = ["InMemorySecretStore"]


class InMemorySecretStore:
    """Keeps envelopes (never plaintext) in memory; lost when the process ends."""

    def __init__(self) -> None:
        self._secrets: dict[str, SecretEnvelope] = {}

    def __repr__(self) -> str:
        return f"InMemorySecretStore({len(self._secrets)} secrets)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def put(self, name: str, envelope: SecretEnvelope) -> None:
        self._secrets[name] = envelope

    async def get(self, name: str) -> SecretEnvelope | None:
        return self._secrets.get(name)

    async def delete(self, name: str) -> bool:
        return self._secrets.pop(name, None) is not None

    async def list(self) -> builtins.list[SecretMetadata]:
        return [self._secrets[name].metadata for name in sorted(self._secrets)]

    async def rewrap(self, updates: Sequence[SecretRewrap]) -> None:
        rewrapped: dict[str, SecretEnvelope] = {}
        for update in updates:
            current = self._secrets.get(update.name)
            if current is None or current.version != update.version:
                raise SecretStoreError(
                    f"secret {update.name!r} was deleted or replaced during the rewrap; "
                    "nothing was changed, retry",
                    secret=update.name,
                )
            rewrapped[update.name] = replace(
                current, wrapped_key=update.wrapped_key, key_id=update.key_id
            )
        self._secrets.update(rewrapped)
