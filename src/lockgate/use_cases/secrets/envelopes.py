"""Envelope encryption of one secret: seal a value under a fresh data key, find the
wrapping a keyring can open, unwrap the data key, open the value.

Each value gets a fresh 256-bit data key and is sealed with AES-GCM, bound to its name and
version (a ciphertext copied to another name fails authentication). The data key is wrapped
by the master key, whose id is stored beside it, so rotating the master key rewraps data
keys and never re-encrypts a value. Everything here is a few AES-GCM operations on a few
hundred bytes (microseconds): safe on the event loop and inside a store's transaction.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lockgate.errors import MasterKeyRotatedError, SecretDecryptionError
from lockgate.models.secret import SecretEnvelope, SecretMetadata
from lockgate.use_cases.secrets.master_key import NONCE_BYTES, Keyring, MasterKey

__all__ = ["held_wrapping", "open_data_key", "open_value", "seal_value", "unwrap_data_key"]


def _value_aad(name: str, version: int) -> bytes:
    return b"lockgate-secret\x00" + name.encode() + b"\x00" + str(version).encode()


def seal_value(
    key: MasterKey, name: str, plaintext: bytes, previous: SecretMetadata | None, now: float
) -> SecretEnvelope:
    """``plaintext`` sealed as the next version of ``name`` (version 1 if new).

    Args:
        key: The master key that wraps the new data key.
        name: The secret's name.
        plaintext: The value's JSON text.
        previous: The metadata of the secret being replaced, if any (its version and
            creation time carry on).
        now: Wall-clock seconds, for ``updated_at`` (and ``created_at`` when new).

    Returns:
        The envelope to store; it has no previous wrapping.
    """
    version = previous.version + 1 if previous is not None else 1
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    return SecretEnvelope(
        name=name,
        key_id=key.key_id,
        wrapped_key=key.wrap(name, data_key),
        nonce=nonce,
        ciphertext=AESGCM(data_key).encrypt(nonce, plaintext, _value_aad(name, version)),
        created_at=previous.created_at if previous is not None else now,
        updated_at=now,
        version=version,
    )


def held_wrapping(keyring: Keyring, envelope: SecretEnvelope) -> tuple[MasterKey, bytes] | None:
    """The key in ``keyring`` that opens ``envelope``'s data key, with the wrapping it opens:
    the current wrapping's key first, then the key of the wrapping kept from before the last
    rotation. None when the keyring holds neither."""
    key = keyring.get(envelope.key_id)
    if key is not None:
        return key, envelope.wrapped_key
    if envelope.previous_key_id is not None and envelope.previous_wrapped_key is not None:
        key = keyring.get(envelope.previous_key_id)
        if key is not None:
            return key, envelope.previous_wrapped_key
    return None


def unwrap_data_key(key: MasterKey, envelope: SecretEnvelope, wrapped: bytes) -> bytes:
    """The data key of ``envelope``, from its wrapping ``wrapped`` by ``key``.

    Raises:
        SecretDecryptionError: The wrapping fails authentication (corrupted, or moved from
            another name).
    """
    try:
        return key.unwrap(envelope.name, wrapped)
    except (InvalidTag, ValueError):
        raise SecretDecryptionError(
            f"secret {envelope.name!r}: its wrapped data key failed authentication under "
            f"master key {key.key_id} (corrupted, or moved from another name)",
            secret=envelope.name,
            key_id=key.key_id,
        ) from None


def open_value(envelope: SecretEnvelope, data_key: bytes) -> bytes:
    """The value's JSON text.

    Raises:
        SecretDecryptionError: The ciphertext fails authentication (corrupted, or moved
            from another name or version).
    """
    try:
        return AESGCM(data_key).decrypt(
            envelope.nonce, envelope.ciphertext, _value_aad(envelope.name, envelope.version)
        )
    except (InvalidTag, ValueError):
        raise SecretDecryptionError(
            f"secret {envelope.name!r}: its ciphertext failed authentication "
            "(corrupted, or moved from another name or version)",
            secret=envelope.name,
            key_id=envelope.key_id,
        ) from None


def open_data_key(keyring: Keyring, envelope: SecretEnvelope) -> bytes:
    """``envelope``'s data key, from whichever of its wrappings ``keyring`` opens.

    Raises:
        MasterKeyRotatedError: ``keyring`` opens neither wrapping (the wrong key, or the
            store was rotated to a key not held).
        SecretDecryptionError: The wrapping fails authentication.
    """
    found = held_wrapping(keyring, envelope)
    if found is None:
        kept = (
            f" (and, kept from before the last rotation, by {envelope.previous_key_id})"
            if envelope.previous_key_id is not None
            else ""
        )
        raise MasterKeyRotatedError(
            f"secret {envelope.name!r} is wrapped by master key {envelope.key_id}{kept}, "
            f"which this gateway does not hold (it holds {', '.join(keyring.key_ids)}): "
            "the wrong master key, or the key was rotated; restart with the current "
            "master key",
            secret=envelope.name,
            key_id=envelope.key_id,
            held=keyring.key_ids,
        )
    key, wrapped = found
    return unwrap_data_key(key, envelope, wrapped)
