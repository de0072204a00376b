"""``SecretManager``: secrets encrypted at rest by envelope encryption (``envelopes``),
kept in an ``ISecretStore``.

Writes and rotations never interleave: the store checks a write's master key in the same
transaction, under the same lock, as a rotation changes it (``ISecretStore.put``,
``rewrap_all``). A manager whose key the store has moved past follows the rotation: it
re-loads its key from its source (``HeldKeys``) and carries on, or refuses writes with
``MasterKeyRotatedError`` (409) while it still reads what its key opens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from lockgate import json_codec
from lockgate.errors import (
    InvalidRequestError,
    MasterKeyRotatedError,
    SecretNotFoundError,
)
from lockgate.gateways.interfaces import ISecretStore
from lockgate.models.secret import (
    SECRET_NAME,
    SecretEnvelope,
    SecretKeyState,
    SecretMetadata,
    SecretValue,
)
from lockgate.use_cases.secrets.envelopes import (
    open_data_key,
    open_value,
    seal_value,
    unwrap_data_key,
)
from lockgate.use_cases.secrets.held_keys import HeldKeys, KeySource
from lockgate.use_cases.secrets.master_key import Keyring, MasterKey
from lockgate.use_cases.secrets.redaction import REVEALED, RevealedSecrets

__all__ = ["SecretManager"]

logger = logging.getLogger(__name__)

# A write refused because the store is under another key is sealed again after the manager
# re-loads its key; a key changing again meanwhile is followed this many times at most.
_WRITE_ATTEMPTS = 3


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"secret name {name!r} is invalid: expected 1 to 128 letters, digits or _ . - /, "
            "not starting with . - or /",
            field="name",
        )
    return name


class SecretManager:
    """Stores, reads, lists, deletes and re-keys secrets; values are cached decrypted in
    memory for ``cache_ttl`` seconds (0 turns the cache off).

    Args:
        store: Where the envelopes are kept.
        keyring: The current master key (and older ones still readable); a plain
            ``MasterKey`` is taken as a keyring of one.
        cache_ttl: Seconds a decrypted value is served from memory.
        clock: A monotonic clock, for the cache.
        wall_clock: Timestamps of created/updated secrets.
        key_source: Re-loads the configured master key (the key file read again, or the
            environment) when the store turns out to be under a key this manager does not
            hold; None never re-loads.
        revealed: Told every value decrypted, so log lines can be scrubbed of it.
    """

    def __init__(
        self,
        store: ISecretStore,
        keyring: Keyring | MasterKey,
        *,
        cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        key_source: KeySource | None = None,
        revealed: RevealedSecrets = REVEALED,
    ) -> None:
        self._store = store
        self._keys = HeldKeys(
            keyring if isinstance(keyring, Keyring) else Keyring(keyring), key_source
        )
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._revealed = revealed
        self._cache: dict[str, tuple[float, SecretValue]] = {}

    def __repr__(self) -> str:
        return f"SecretManager(key_id={self.key_id!r}, cached={len(self._cache)})"

    @property
    def key_id(self) -> str:
        """The id of the current master key."""
        return self._keys.current.key_id

    async def store_secret(self, name: str, value: Any, *, encrypt: bool = True) -> SecretMetadata:
        """Encrypt and store ``value`` (a JSON value) under ``name``, replacing any previous
        value (its version goes up by one).

        Args:
            encrypt: Accepted for the seed's callers; values are always encrypted, so
                ``False`` is refused rather than ignored.

        Raises:
            InvalidRequestError: A bad name, a value that is not JSON, or ``encrypt=False``.
            MasterKeyRotatedError: The store is under a master key this manager does not
                hold, even after re-loading its key (nothing was written).
            MasterKeyError: The store records no current key but holds secrets under
                another one (nothing was written).
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
        for _ in range(_WRITE_ATTEMPTS):
            key = self._keys.current

            def seal(previous: SecretMetadata | None, key: MasterKey = key) -> SecretEnvelope:
                return seal_value(key, name, plaintext, previous, self._wall_clock())

            try:
                envelope = await self._store.put(name, seal)
                break
            except MasterKeyRotatedError as exc:
                wanted = str(exc.fields.get("current_key_id"))
                if not self._keys.follow(wanted):
                    raise self._write_refused(name, wanted) from None
            finally:
                self._cache.pop(name, None)
        else:
            raise self._write_refused(name, "a newer one")
        logger.info("secret %r stored (version %d, key %s)", name, envelope.version, key.key_id)
        return envelope.metadata

    def _write_refused(self, name: str, wanted: str) -> MasterKeyRotatedError:
        source = (
            " (its key file or LOCKGATE_MASTER_KEY still gives that key)"
            if self._keys.reloads
            else ""
        )
        return MasterKeyRotatedError(
            f"cannot store secret {name!r}: the secrets' master key was rotated to {wanted}, "
            f"but the key in use is {self.key_id}{source}: restart the gateway with the new "
            "master key; until then it reads what the old key still opens. Nothing was "
            "written",
            secret=name,
            key_id=self.key_id,
            current_key_id=wanted,
        )

    async def get_secret(self, name: str) -> SecretValue:
        """The decrypted value of ``name``, from the cache while it is fresh.

        Raises:
            SecretNotFoundError: No secret by that name.
            MasterKeyRotatedError: No key this manager holds (even after re-loading its
                key) opens the secret's data key.
            SecretDecryptionError: Its wrapped key or ciphertext fails authentication.
            SecretStoreError: The store failed.
        """
        _check_name(name)
        cached = self._cache.get(name)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        envelope = await self._store.get(name)
        if envelope is None:
            raise SecretNotFoundError(f"no secret named {name!r}", secret=name)
        if self._keys.keyring.get(envelope.key_id) is None:
            self._keys.follow(envelope.key_id)  # falls back on the kept wrapping if not
        plain = open_value(envelope, open_data_key(self._keys.keyring, envelope))
        value = SecretValue(json_codec.loads(plain))
        self._revealed.add(value.reveal())
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
        self._cache.pop(name, None)
        if not await self._store.delete(name):
            raise SecretNotFoundError(f"no secret named {name!r}", secret=name)
        logger.info("secret %r deleted", name)

    async def list_secrets(self) -> list[SecretMetadata]:
        """Every secret's name and metadata, by name; never a value."""
        return await self._store.list()

    async def key_state(self) -> SecretKeyState:
        """The store's current master key id and how many secrets each key wraps."""
        return await self._store.key_state()

    async def rotate_master_key(self, new_key: MasterKey, *, retire_old: bool = False) -> int:
        """Rewrap every data key with ``new_key`` and make it the store's current key, in
        one store transaction that writes wait for; ciphertexts are not touched.

        Args:
            new_key: The new master key.
            retire_old: Drop every wrapping by an older key at once (after a compromise):
                only ``new_key`` opens anything afterwards. By default each secret keeps
                its wrapping by the key it was under, so gateways still running with that
                key keep reading until ``retire_previous_keys``.

        Returns:
            How many secrets were rewrapped.

        Raises:
            MasterKeyRotatedError: A secret is under a key this manager does not hold
                (nothing was changed).
            SecretDecryptionError: A data key fails authentication (nothing was changed).
            SecretStoreError: The store failed (nothing was changed).
        """
        keyring = self._keys.keyring.rotated(new_key)

        def rewrap(envelope: SecretEnvelope) -> bytes:
            return new_key.wrap(envelope.name, open_data_key(keyring, envelope))

        count = await self._store.rewrap_all(new_key.key_id, rewrap, keep_previous=not retire_old)
        self._keys.adopt(new_key)
        self._cache.clear()
        kept = "dropped" if retire_old else "kept until retired"
        logger.info(
            "master key rotated to %s: %d secrets rewrapped (old wrappings %s)",
            new_key.key_id,
            count,
            kept,
        )
        return count

    async def retire_previous_keys(self) -> int:
        """Drop the wrappings kept from before the last rotation: afterwards only the
        current key opens anything (every data key is wrapped afresh by it, in one
        transaction).

        Returns:
            How many secrets were rewrapped.

        Raises:
            MasterKeyRotatedError: The store's current key is not this manager's, or a
                secret is not wrapped by it (nothing was changed).
            SecretDecryptionError, SecretStoreError: As ``rotate_master_key``.
        """
        key = self._keys.current
        state = await self._store.key_state()
        if state.current_key_id not in (None, key.key_id):
            raise MasterKeyRotatedError(
                f"cannot retire old master keys with {key.key_id}: the secrets' current key "
                f"is {state.current_key_id}; give the current key",
                key_id=key.key_id,
                current_key_id=state.current_key_id,
            )

        def rewrap(envelope: SecretEnvelope) -> bytes:
            if envelope.key_id != key.key_id:  # it would be lost with what is dropped
                raise MasterKeyRotatedError(
                    f"cannot retire old master keys: secret {envelope.name!r} is wrapped by "
                    f"master key {envelope.key_id}, not by the current {key.key_id}; rotate "
                    "to the current key first (nothing was changed)",
                    secret=envelope.name,
                    key_id=envelope.key_id,
                )
            return key.wrap(envelope.name, unwrap_data_key(key, envelope, envelope.wrapped_key))

        count = await self._store.rewrap_all(key.key_id, rewrap, keep_previous=False)
        self._keys.keyring = Keyring(key)
        self._cache.clear()
        logger.info("old master keys retired: %d secrets wrapped by %s only", count, key.key_id)
        return count
