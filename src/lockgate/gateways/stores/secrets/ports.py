"""``ISecretStore`` (where secrets' envelopes are kept; values are sealed before they get
here), and ``ISecretReader``/``ISecretBackend`` (what the gateway asks of its secrets: the
encrypted ``SecretManager`` or the read-only environment backend).

The stores' notes name their calls by backend: the in-memory store makes none, the SQLite
one runs statements on its own writer thread (``sqlite3``), the PostgreSQL one through an
``asyncpg`` pool.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
    SecretValue,
)

__all__ = ["ISecretBackend", "ISecretReader", "ISecretStore"]


@runtime_checkable
class ISecretStore(Protocol):
    """Where encrypted secrets are kept (beside the runs, in the same database).

    The store sees only envelopes: ciphertexts and wrapped data keys. Encryption,
    decryption and key handling belong to ``SecretManager``. The store also records the id
    of the current master key, and holds one lock for it: ``put`` checks a write's key
    under it and ``rewrap_all`` changes the key under it, so across every process sharing
    the database a write and a rotation never interleave.
    """

    async def open(self) -> None:
        """Connect and bring the secrets' schema up to the current version.

        Raises:
            SecretStoreError: The database cannot be opened or is newer than this code.

        Side Effects:
            Creates the secrets table (and its version table) if missing.

        Note:
            SQLite: ``sqlite3.connect`` and the migrations; PostgreSQL:
            ``asyncpg.create_pool`` and the migrations under an advisory lock.
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent.

        Raises:
            Nothing.

        Side Effects:
            Later calls fail until ``open`` is called again.

        Note:
            Closes the SQLite connection, or the ``asyncpg`` pool.
        """
        ...

    async def put(self, name: str, seal: SealSecret) -> SecretEnvelope:
        """Store the envelope ``seal`` makes under ``name``, replacing any previous one,
        in one transaction that holds the store's master-key lock, so no rotation runs
        between the check and the write.

        Args:
            name: The secret's name.
            seal: Called inside the transaction with the metadata of the secret being
                replaced (None for a new one); returns the envelope to store (its version
                and created_at follow from that metadata). Must not block: it runs while
                the lock is held (AES-GCM on a few hundred bytes).

        Returns:
            The envelope stored.

        Raises:
            MasterKeyRotatedError: The envelope is sealed under a master key other than the
                store's current one (``fields["current_key_id"]`` names it); nothing was
                written.
            MasterKeyError: The store has no current key recorded yet holds secrets under
                another key (a database written before key tracking with mixed keys);
                nothing was written.
            SecretStoreError: The write failed; nothing was changed.

        Side Effects:
            One committed write; the first write to an empty store records its key as
            the current one.

        Note:
            SQLite: ``BEGIN IMMEDIATE``, a read of the current key, one ``INSERT ... ON
            CONFLICT``; PostgreSQL: the same in one transaction holding ``SELECT ... FOR
            UPDATE`` on the keyring row.
        """
        ...

    async def get(self, name: str) -> SecretEnvelope | None:
        """The envelope stored under ``name``.

        Args:
            name: The secret's name.

        Returns:
            The envelope, or None when there is no such secret.

        Raises:
            SecretStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` by name.
        """
        ...

    async def delete(self, name: str) -> bool:
        """Remove the secret ``name``.

        Args:
            name: The secret's name.

        Returns:
            True if it existed.

        Raises:
            SecretStoreError: The write failed.

        Side Effects:
            One committed ``DELETE`` (SQLite overwrites the deleted bytes: ``secure_delete``).

        Note:
            One ``DELETE`` by name.
        """
        ...

    async def list(self) -> list[SecretMetadata]:
        """Every secret's metadata, by name; never a value or a key.

        Returns:
            Name, version, key id and times of each secret, sorted by name.

        Raises:
            SecretStoreError: The read failed.

        Side Effects:
            None.

        Note:
            One ``SELECT`` of the metadata columns (never the ciphertexts).
        """
        ...

    async def key_state(self) -> SecretKeyState:
        """The current master key id and how many secrets each key wraps.

        Returns:
            The recorded current key id (None before the first write) and the counts.

        Raises:
            SecretStoreError: The read failed.

        Side Effects:
            None.

        Note:
            Two ``SELECT``s: the keyring row, and the counts grouped by key id.
        """
        ...

    async def rewrap_all(self, key_id: str, rewrap: RewrapDataKey, *, keep_previous: bool) -> int:
        """Rewrap every secret's data key for the master key ``key_id`` and make it the
        current key, in ONE transaction holding the same lock as ``put``: writes wait for
        it (they are then checked against ``key_id``), and it never has to be retried
        because of them. Ciphertexts, nonces and versions are left as they are.

        Args:
            key_id: The new current master key's id.
            rewrap: Called for each stored envelope inside the transaction; returns its
                data key wrapped by ``key_id``. Must not block (AES-GCM, microseconds).
                What it raises rolls everything back.
            keep_previous: Keep each secret's wrapping by the key it was under (when that
                is not ``key_id``) as its previous wrapping, so that key still reads it;
                False drops every previous wrapping, so only ``key_id`` opens anything.

        Returns:
            How many secrets were rewrapped.

        Raises:
            SecretStoreError: The write failed (nothing was changed).
            Whatever ``rewrap`` raises (nothing was changed).

        Side Effects:
            One committed transaction.

        Note:
            A ``SELECT`` of every envelope and one ``UPDATE`` each, in the transaction that
            holds the keyring's lock (``BEGIN IMMEDIATE`` / ``FOR UPDATE``).
        """
        ...


@runtime_checkable
class ISecretReader(Protocol):
    """Where resources' credentials are read from (the read half of ``ISecretBackend``)."""

    async def get_secret(self, name: str) -> SecretValue:
        """The decrypted value of secret ``name``.

        Args:
            name: The secret's name (a ``credentials_ref``).

        Returns:
            Its value, wrapped so that its repr and str never show it.

        Raises:
            SecretNotFoundError: No secret by that name.
            SecretDecryptionError, MasterKeyRotatedError: It cannot be decrypted.
            SecretStoreError: The store failed.

        Side Effects:
            The value is remembered for log redaction (and cached for ``cache_ttl``).

        Note:
            ``SecretManager``: ``ISecretStore.get`` then AES-GCM in memory; the
            environment backend reads ``os.environ``.
        """
        ...


@runtime_checkable
class ISecretBackend(ISecretReader, Protocol):
    """What the gateway asks of its secrets: the encrypted ``SecretManager``, or the
    read-only environment backend (``secrets = "env"``)."""

    async def store_secret(self, name: str, value: Any, *, encrypt: bool = True) -> SecretMetadata:
        """Encrypt and store ``value`` (a JSON value) under ``name``, replacing any.

        Args:
            name: The secret's name.
            value: A JSON value (usually an object: ``{"user": ..., "password": ...}``).
            encrypt: Must be True: values are always encrypted at rest.

        Returns:
            The stored secret's metadata (never its value).

        Raises:
            InvalidRequestError: A bad name, a value that is not JSON, ``encrypt=False``.
            SecretsReadOnlyError: The backend cannot write (the environment).
            MasterKeyRotatedError, SecretStoreError: As ``ISecretStore.put``.

        Side Effects:
            One committed write.

        Note:
            ``SecretManager``: AES-GCM in memory, then ``ISecretStore.put``.
        """
        ...

    async def delete_secret(self, name: str) -> None:
        """Remove the secret ``name``.

        Args:
            name: The secret's name.

        Raises:
            SecretNotFoundError: No secret by that name.
            SecretsReadOnlyError: The backend cannot write.
            SecretStoreError: The store failed.

        Side Effects:
            One committed delete; the cached value is dropped.

        Note:
            ``SecretManager``: ``ISecretStore.delete``.
        """
        ...

    async def list_secrets(self) -> list[SecretMetadata]:
        """Every secret's name and metadata, by name; never a value.

        Returns:
            The metadata, sorted by name.

        Raises:
            SecretStoreError: The store failed.

        Side Effects:
            None.

        Note:
            ``SecretManager``: ``ISecretStore.list``; the environment backend scans
            ``os.environ`` for its prefix.
        """
        ...
