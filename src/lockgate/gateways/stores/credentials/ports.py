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
    secrets are stored: a stolen database opens nothing.

    The notes name the calls by backend: none in memory, ``sqlite3`` on the store's writer
    thread for SQLite, an ``asyncpg`` pool for PostgreSQL.
    """

    async def open(self) -> None:
        """Connect and bring the tables up to date.

        Raises:
            RunStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the credentials' and usage tables if missing; applies migrations.

        Note:
            ``sqlite3.connect``, or ``asyncpg.create_pool``; migrations under a lock.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent.

        Raises:
            Nothing.

        Side Effects:
            Later calls fail until ``open``.

        Note:
            Closes the SQLite connection, or the ``asyncpg`` pool.
        """
        ...

    async def add(self, credential: Credential) -> None:
        """Store a new credential, committed before this returns.

        Args:
            credential: Its name, kind, scopes and the hash of its secret (never the
                secret).

        Raises:
            CredentialExistsError: One of the same kind has that name already (nothing
                was written).
            RunStoreError: The write failed.

        Side Effects:
            One committed write.

        Note:
            One ``INSERT`` (a unique index on kind and name refuses a duplicate).
        """
        ...

    async def find(self, secret_hash: str) -> Credential | None:
        """The credential whose secret hashes to ``secret_hash``.

        Args:
            secret_hash: The SHA-256 of a presented secret.

        Returns:
            The credential, or None.

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            Called for requests whose credential is not cached: one indexed ``SELECT``.
        """
        ...

    async def list(self, kind: CredentialKind) -> list[Credential]:
        """Every credential of ``kind``.

        Args:
            kind: Tokens or API keys.

        Returns:
            The credentials, by name (hashes, never secrets).

        Raises:
            RunStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` by kind.
        """
        ...

    async def revoke(self, kind: CredentialKind, name: str) -> bool:
        """Delete the credential, and its usage counts.

        Args:
            kind: Tokens or API keys.
            name: Its name.

        Returns:
            Whether there was one.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed transaction; other nodes stop accepting it within their cache
            time.

        Note:
            Two ``DELETE``s in one transaction.
        """
        ...

    async def touch(self, last_used: Mapping[str, float]) -> None:
        """Record when credentials were last used; an older time never replaces a newer
        one, and unknown ids are ignored.

        Args:
            last_used: ``credential_id`` -> Unix seconds.

        Raises:
            RunStoreError: The write failed.

        Side Effects:
            One committed write (batched: called once a minute, never per request).

        Note:
            One ``UPDATE ... SET last_used_at = max(...)`` per id (``executemany``).
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

        Note:
            ``INSERT ... ON CONFLICT DO UPDATE SET count = count + ?`` per key, and the
            ``DELETE`` of older periods, in one transaction.
        """
        ...
