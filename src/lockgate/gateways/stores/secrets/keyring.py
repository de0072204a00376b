"""The rules every secret store applies inside its write and rotation transactions: which
master key a write may use, and what a rewrapped envelope keeps. Pure functions, so the
memory, SQLite and PostgreSQL stores cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lockgate.errors import MasterKeyError, MasterKeyRotatedError
from lockgate.models.secret import SecretEnvelope

__all__ = ["checked_key", "rewrapped"]


def checked_key(current_key_id: str | None, envelope: SecretEnvelope, others: Sequence[str]) -> str:
    """The store's current key id once ``envelope`` is written: its own key when it matches
    the current one, or when no key is recorded and no other secret is under another key.

    Args:
        current_key_id: The key id the store records (None: none yet).
        envelope: What is about to be written.
        others: The key ids of stored secrets other than ``envelope.key_id`` (only read
            when no key is recorded).

    Raises:
        MasterKeyRotatedError: The store's current key is another one.
        MasterKeyError: No key is recorded and secrets are stored under another key.
    """
    if current_key_id is None:
        if others:
            raise MasterKeyError(
                f"refusing to store secret {envelope.name!r}: the store holds secrets under "
                f"master key(s) {', '.join(sorted(set(others)))} and records no current key; "
                "rotate them all to one key first (lockgate secrets rotate)",
                secret=envelope.name,
                key_ids=sorted(set(others)),
            )
        return envelope.key_id
    if current_key_id != envelope.key_id:
        raise MasterKeyRotatedError(
            f"refusing to store secret {envelope.name!r}: the secrets' current master key is "
            f"{current_key_id}, not {envelope.key_id} (nothing was written)",
            secret=envelope.name,
            key_id=envelope.key_id,
            current_key_id=current_key_id,
        )
    return current_key_id


def rewrapped(
    envelope: SecretEnvelope, key_id: str, wrapped_key: bytes, *, keep_previous: bool
) -> SecretEnvelope:
    """``envelope`` with its data key wrapped anew for ``key_id``.

    Args:
        envelope: The stored envelope.
        key_id: The new master key's id.
        wrapped_key: The data key wrapped by that key.
        keep_previous: Keep the wrapping it replaces as its previous one (if it was by
            another key; rewrapped for the same key, what it kept stays kept); False
            drops any previous wrapping.

    Returns:
        The envelope to store; ciphertext, nonce and version unchanged.
    """
    previous_key_id, previous_wrapped = None, None
    if keep_previous:
        if envelope.key_id != key_id:
            previous_key_id, previous_wrapped = envelope.key_id, envelope.wrapped_key
        else:  # rewrapped again for the same key: what it kept stays kept
            previous_key_id, previous_wrapped = (
                envelope.previous_key_id,
                envelope.previous_wrapped_key,
            )
    return replace(
        envelope,
        key_id=key_id,
        wrapped_key=wrapped_key,
        previous_key_id=previous_key_id,
        previous_wrapped_key=previous_wrapped,
    )
