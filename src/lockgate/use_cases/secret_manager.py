"""``SecretManager``: secrets encrypted at rest by envelope encryption.

Each value gets a fresh 256-bit data key and is sealed with AES-GCM, bound to its name and
version (a ciphertext copied to another name fails authentication). The data key is wrapped
by the master key, whose id is stored beside it, so rotating the master key rewraps the
data keys and never re-encrypts a value. No key derivation runs on a read: decryption is
two AES-GCM operations on a few hundred bytes (microseconds), so it stays on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lockgate import json_codec
from lockgate.errors import (
    InvalidRequestError,
    MasterKeyError,
    SecretDecryptionError,
    SecretNotFoundError,
)
from lockgate.gateways.interfaces import ISecretStore
from lockgate.models.secret import (
    SECRET_NAME,
    SecretEnvelope,
    SecretMetadata,
    SecretRewrap,
    SecretValue,
)
from lockgate.use_cases.master_key import NONCE_BYTES, Keyring, MasterKey

__all__ = ["SecretManager"]

logger = logging.getLogger(__name__)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"secret name {name!r} is invalid: expected 1 to 128 letters, digits or _ . - /, "
            "not starting with . - or /",
            field="name",
        )
    return name


def _value_aad(name: str, version: int) -> bytes:
    return b"lockgate-secret\x00" + name.encode() + b"\x00" + str(version).encode()


class SecretManager:
    """Stores, reads, lists, deletes and re-keys secrets; values are cached decrypted in
    memory for ``cache_ttl`` seconds (0 turns the cache off).

    Args:
        store: Where the envelopes are kept.
        keyring: The current master key (and retired ones still readable); a plain
            ``MasterKey`` is taken as a keyring of one.
        cache_ttl: Seconds a decrypted value is served from memory.
        clock: A monotonic clock, for the cache.
        wall_clock: Timestamps of created/updated secrets.
    """

    def __init__(
        self,
        store: ISecretStore,
        keyring: Keyring | MasterKey,
        *,
        cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._keyring = keyring if isinstance(keyring, Keyring) else Keyring(keyring)
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._cache: dict[str, tuple[float, SecretValue]] = {}
        # Writes and rotation are serialised: a rotation must never pair a value stored
        # meanwhile with a stale data key (the store's version check catches other nodes).
        self._writes = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SecretManager(key_id={self.key_id!r}, cached={len(self._cache)})"

    @property
    def key_id(self) -> str:
        """The id of the current master key."""
        return self._keyring.current.key_id

    async def store_secret(self, name: str, value: Any, *, encrypt: bool = True) -> SecretMetadata:
        """Encrypt and store ``value`` (a JSON value) under ``name``, replacing any previous
        value (its version goes up by one).

        Args:
            encrypt: Accepted for the seed's callers; values are always encrypted, so
                ``False`` is refused rather than ignored.

        Raises:
            InvalidRequestError: A bad name, a value that is not JSON, or ``encrypt=False``.
            MasterKeyError: The database holds secrets under a master key this manager does
                not have (refusing to mix keys; nothing was written).
            SecretStoreError: The store failed.
        """
        _check_name(name)
        if not encrypt:
            raise InvalidRequestError(
                f"secret {name!r}: secrets are always encrypted at rest; drop encrypt=False",
                field="encrypt",
            )
        try:
            plaintext = json_codec.dumps(value)
        except TypeError as exc:
            raise InvalidRequestError(
                f"the value of secret {name!r} is not a JSON value ({exc})", field="value"
            ) from None
        async with self._writes:
            stored = await self._store.list()
            foreign = sorted({m.key_id for m in stored} - set(self._keyring.key_ids))
            if foreign:
                raise MasterKeyError(
                    f"refusing to store secret {name!r}: the secrets database holds secrets "
                    f"under master key(s) {', '.join(foreign)}, but the configured master key "
                    f"is {self.key_id}; configure the key the database was created with",
                    secret=name,
                    key_ids=foreign,
                )
            previous = next((m for m in stored if m.name == name), None)
            now = self._wall_clock()
            version = previous.version + 1 if previous is not None else 1
            data_key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(NONCE_BYTES)
            envelope = SecretEnvelope(
                name=name,
                key_id=self.key_id,
                wrapped_key=self._keyring.current.wrap(name, data_key),
                nonce=nonce,
                ciphertext=AESGCM(data_key).encrypt(nonce, plaintext, _value_aad(name, version)),
                created_at=previous.created_at if previous is not None else now,
                updated_at=now,
                version=version,
            )
            self._cache.pop(name, None)
            await self._store.put(name, envelope)
            self._cache.pop(name, None)
        logger.info("secret %r stored (version %d, key %s)", name, version, self.key_id)
        return envelope.metadata

    async def get_secret(self, name: str) -> SecretValue:
        """The decrypted value of ``name``, from the cache while it is fresh.

        Raises:
            SecretNotFoundError: No secret by that name.
            SecretDecryptionError: Stored under a master key this manager lacks, or its
                wrapped key or ciphertext fails authentication.
            SecretStoreError: The store failed.
        """
        _check_name(name)
        cached = self._cache.get(name)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        envelope = await self._store.get(name)
        if envelope is None:
            raise SecretNotFoundError(f"no secret named {name!r}", secret=name)
        value = SecretValue(json_codec.loads(self._decrypt(envelope)))
        if self._cache_ttl > 0:
            self._cache[name] = (self._clock() + self._cache_ttl, value)
        return value

    async def delete_secret(self, name: str) -> None:
        """Remove the secret ``name``.

        Raises:
            SecretNotFoundError: No secret by that name.
            SecretStoreError: The store failed.
        """
        _check_name(name)
        async with self._writes:
            self._cache.pop(name, None)
            if not await self._store.delete(name):
                raise SecretNotFoundError(f"no secret named {name!r}", secret=name)
        logger.info("secret %r deleted", name)

    async def list_secrets(self) -> list[SecretMetadata]:
        """Every secret's name and metadata, by name; never a value."""
        return await self._store.list()

    async def rotate_master_key(self, new_key: MasterKey) -> int:
        """Rewrap every data key with ``new_key`` in one store transaction; ciphertexts are
        not touched. Afterwards new secrets are wrapped by ``new_key``; the old key stays
        in this manager's keyring, but the database no longer needs it.

        Returns:
            How many secrets were rewrapped.

        Raises:
            SecretDecryptionError: A data key cannot be unwrapped (nothing was changed).
            SecretStoreError: A secret changed meanwhile on another node, or the store
                failed (nothing was changed).
        """
        async with self._writes:
            updates: list[SecretRewrap] = []
            for meta in await self._store.list():
                envelope = await self._store.get(meta.name)
                if envelope is None:  # deleted by another node since the listing
                    continue
                data_key = self._unwrap(envelope)
                updates.append(
                    SecretRewrap(
                        envelope.name,
                        new_key.wrap(envelope.name, data_key),
                        new_key.key_id,
                        envelope.version,
                    )
                )
            await self._store.rewrap(updates)
            self._keyring = self._keyring.rotated(new_key)
            self._cache.clear()
        logger.info("master key rotated to %s: %d secrets rewrapped", new_key.key_id, len(updates))
        return len(updates)

    def _unwrap(self, envelope: SecretEnvelope) -> bytes:
        key = self._keyring.get(envelope.key_id)
        if key is None:
            raise SecretDecryptionError(
                f"secret {envelope.name!r} is encrypted under master key {envelope.key_id}, "
                f"but the configured master key is {self.key_id}: wrong master key "
                "(configure the key the secrets were stored with)",
                secret=envelope.name,
                key_id=envelope.key_id,
            )
        try:
            return key.unwrap(envelope.name, envelope.wrapped_key)
        except (InvalidTag, ValueError):
            raise SecretDecryptionError(
                f"secret {envelope.name!r}: its wrapped data key failed authentication under "
                f"master key {envelope.key_id} (corrupted, or moved from another name)",
                secret=envelope.name,
                key_id=envelope.key_id,
            ) from None

    def _decrypt(self, envelope: SecretEnvelope) -> bytes:
        data_key = self._unwrap(envelope)
        try:
            return AESGCM(data_key).decrypt(
                envelope.nonce,
                envelope.ciphertext,
                _value_aad(envelope.name, envelope.version),
            )
        except (InvalidTag, ValueError):
            raise SecretDecryptionError(
                f"secret {envelope.name!r}: its ciphertext failed authentication "
                "(corrupted, or moved from another name or version)",
                secret=envelope.name,
                key_id=envelope.key_id,
            ) from None
