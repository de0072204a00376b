"""``HeldKeys``: the master keys a ``SecretManager`` holds, and how it follows a rotation
made elsewhere (``lockgate secrets rotate``, another node) while it runs.

When the store turns out to be under a key it does not hold, the manager re-loads its key
from the source it was started with (the key file, read again; or the environment). If that
is the key wanted, it is adopted and the call carries on; if not (the source still gives the
old key), the caller gets a clear refusal rather than a failure. Re-loading is one small
file read or environment lookup, done only when an unknown key id is met.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lockgate.errors import MasterKeyError
from lockgate.use_cases.secrets.master_key import Keyring, MasterKey

__all__ = ["HeldKeys", "KeySource"]

logger = logging.getLogger("lockgate.use_cases.secrets.manager")

KeySource = Callable[[], MasterKey]
"""Loads the master key from where the gateway was configured to read it.

Raises:
    MasterKeyError: The source is missing, unreadable, not private or malformed.
"""


class HeldKeys:
    """The current master key (which seals new values), the others still held (which open
    old wrappings), and the source to re-load from.

    Args:
        keyring: The keys held at start.
        source: Re-loads the configured key; None: never re-load (the CLI, which is given
            its keys explicitly).
    """

    __slots__ = ("_noted", "_source", "keyring")

    def __init__(self, keyring: Keyring, source: KeySource | None = None) -> None:
        self.keyring = keyring
        self._source = source
        self._noted: set[str] = set()  # key ids already reported as not in the source

    @property
    def current(self) -> MasterKey:
        return self.keyring.current

    @property
    def reloads(self) -> bool:
        """Whether a rotation can be followed by re-loading the key from its source."""
        return self._source is not None

    def adopt(self, key: MasterKey) -> None:
        """Make ``key`` current, keeping the others for the wrappings they still open."""
        self.keyring = self.keyring.rotated(key)

    def follow(self, wanted: str) -> bool:
        """Re-load the key from the source because the store is under ``wanted``.

        Returns:
            True when the key ``wanted`` is held now (adopted as the current key).
        """
        if self.keyring.get(wanted) is not None:
            return True
        if self._source is None:
            return False
        try:
            key = self._source()
        except MasterKeyError as exc:
            # Keep serving with the key held: a bad edit of the key file must not take
            # down reads that still work. Said once per key wanted.
            self._note(wanted, "re-reading the master key failed (%s)", exc.message)
            return False
        if key.key_id != wanted:
            self._note(
                wanted,
                "the secrets were rotated to master key %s, but this gateway's key source "
                "still gives %s: secrets still wrapped by it (until it is retired) stay "
                "readable, writes are refused until the gateway is given the new key",
                wanted,
                key.key_id,
            )
            return False
        held = self.current.key_id
        self.adopt(key)
        logger.warning("following a key rotation: master key %s re-loaded (was %s)", wanted, held)
        return True

    def _note(self, wanted: str, message: str, *args: object) -> None:
        if wanted not in self._noted:
            self._noted.add(wanted)
            logger.warning(message, *args)
