"""``InMemoryCredentialStore``: tokens and API keys in dicts, for tests and ``memory://``
gateways (nothing survives a restart: tokens must be made again)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import replace

from lockgate.errors import CredentialExistsError
from lockgate.gateways.stores.credentials.ports import UsageKey
from lockgate.models.security.principals import Credential, CredentialKind

__all__ = ["InMemoryCredentialStore"]


class InMemoryCredentialStore:
    """Credentials in memory; lost when the process ends."""

    def __init__(self) -> None:
        self._by_id: dict[str, Credential] = {}
        self._usage: dict[UsageKey, int] = {}

    def __repr__(self) -> str:
        return f"InMemoryCredentialStore({len(self._by_id)} credentials)"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def add(self, credential: Credential) -> None:
        for known in self._by_id.values():
            if (known.kind, known.name) == (credential.kind, credential.name):
                raise CredentialExistsError(
                    f"a {credential.kind.value} named {credential.name!r} exists already",
                    name=credential.name,
                )
            if known.secret_hash == credential.secret_hash:
                raise CredentialExistsError("that secret is in use already")
        self._by_id[credential.credential_id] = credential

    async def find(self, secret_hash: str) -> Credential | None:
        return next((c for c in self._by_id.values() if c.secret_hash == secret_hash), None)

    async def list(self, kind: CredentialKind) -> builtins.list[Credential]:
        return sorted((c for c in self._by_id.values() if c.kind is kind), key=lambda c: c.name)

    async def revoke(self, kind: CredentialKind, name: str) -> bool:
        for credential_id, known in list(self._by_id.items()):
            if (known.kind, known.name) == (kind, name):
                del self._by_id[credential_id]
                self._usage = {k: v for k, v in self._usage.items() if k[0] != credential_id}
                return True
        return False

    async def touch(self, last_used: Mapping[str, float]) -> None:
        for credential_id, when in last_used.items():
            known = self._by_id.get(credential_id)
            if known is not None and (known.last_used_at or 0.0) < when:
                self._by_id[credential_id] = replace(known, last_used_at=when)

    async def add_usage(self, counts: Mapping[UsageKey, int]) -> dict[UsageKey, int]:
        totals: dict[UsageKey, int] = {}
        for key, count in counts.items():
            credential_id, period = key
            stale = [k for k in self._usage if k[0] == credential_id and k[1] != period]
            for old in stale:
                del self._usage[old]
            totals[key] = self._usage[key] = self._usage.get(key, 0) + count
        return totals
