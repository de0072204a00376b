"""``ISecretStore``: where secrets' envelopes are kept; values are sealed before they get here."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.secret import (
    RewrapDataKey,
    SealSecret,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
)

__all__ = ["ISecretStore"]


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
        """
        ...

    async def close(self) -> None:
        """Disconnect. Idempotent."""
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
        """
        ...

    async def get(self, name: str) -> SecretEnvelope | None:
        """The envelope stored under ``name``, or None.

        Raises:
            SecretStoreError: The read failed.
        """
        ...

    async def delete(self, name: str) -> bool:
        """Remove the secret ``name``.

        Returns:
            True if it existed.

        Raises:
            SecretStoreError: The write failed.
        """
        ...

    async def list(self) -> list[SecretMetadata]:
        """Every secret's metadata, by name; never a value or a key.

        Raises:
            SecretStoreError: The read failed.
        """
        ...

    async def key_state(self) -> SecretKeyState:
        """The current master key id and how many secrets each key wraps.

        Raises:
            SecretStoreError: The read failed.
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
        """
        ...
