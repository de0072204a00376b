"""``ICredentialStore``: where tokens and API keys are kept, hashed, and where API keys'
usage is counted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from lockgate.models.security.principals import Credential, CredentialKind

__all__ = ["ICredentialStore", "UsageKey"]

UsageKey = tuple[str, str]
"""``(credential_id, period)``: an API key's count for one quota period (``"day:2026-12-07"``)."""


@runtime_checkable
class ICredentialStore(Protocol):
    """Tokens and API keys, kept beside the runs in the same database. Only hashes of their
    secrets are stored: a stolen database opens nothing."""

    async def open(self) -> None:
        """Connect and bring the tables up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
        ...

    async def add(self, credential: Credential) -> None:
        """Store a new credential, committed before this returns.

        Raises:
            CredentialExistsError: One of the same kind has that name already (nothing
                was written).
            RunStoreError: The write failed.
        """
        ...

    async def find(self, secret_hash: str) -> Credential | None:
        """The credential whose secret hashes to ``secret_hash``, or None.

        Raises:
            RunStoreError: The read failed.

        Note:
            Called for requests whose credential is not cached: one indexed read.
        """
        ...

    async def list(self, kind: CredentialKind) -> list[Credential]:
        """Every credential of ``kind``, by name.

        Raises:
            RunStoreError: The read failed.
        """
        ...

    async def revoke(self, kind: CredentialKind, name: str) -> bool:
        """Delete the credential (and its usage counts); whether there was one.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def touch(self, last_used: Mapping[str, float]) -> None:
        """Record when credentials were last used (``credential_id`` -> Unix seconds); an
        older time never replaces a newer one, and unknown ids are ignored.

        Raises:
            RunStoreError: The write failed.
        """
        ...

    async def add_usage(self, counts: Mapping[UsageKey, int]) -> dict[UsageKey, int]:
        """Add requests to API keys' counts, in one transaction, and answer each key's total
        for its period (other nodes' requests included).

        Args:
            counts: ``(credential_id, period)`` -> requests since the last call (0 just
                reads the total).

        Returns:
            The totals, by the same keys.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            A key's counts of earlier periods are deleted: only the current one matters.
        """
        ...
