"""The master key that wraps every secret's data key, and the keyring used during rotation.

A master key is 32 random bytes, given as URL-safe base64 in ``LOCKGATE_MASTER_KEY`` or in a
key file only its owner can read (mode 0600). Its id is a fingerprint (not the key), stored
beside each wrapped data key so a database opened with another key is recognised before
anything is decrypted or written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lockgate.errors import MasterKeyError

__all__ = [
    "KEY_BYTES",
    "MASTER_KEY_ENV",
    "Keyring",
    "MasterKey",
    "create_key_file",
    "generate_master_key",
    "load_master_key",
]

KEY_BYTES = 32
MASTER_KEY_ENV = "LOCKGATE_MASTER_KEY"
NONCE_BYTES = 12
_HOW = "create one with `lockgate secrets init-key`"
NO_KEY = f"no master key: set {MASTER_KEY_ENV} or give a key file (mode 0600); {_HOW}"
_WRAP_AAD = b"lockgate-data-key\x00"


class MasterKey:
    """A 256-bit AES-GCM key encryption key; its repr shows only its id."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError(
                f"a master key is {KEY_BYTES} bytes, not {len(key)}; {_HOW}",
                expected=KEY_BYTES,
                got=len(key),
            )
        # A domain-separated hash, so the id says nothing usable about the key.
        self.key_id = hashlib.sha256(b"lockgate-master-key-id\x00" + key).hexdigest()[:16]
        self._aead = AESGCM(key)

    @classmethod
    def from_base64(cls, text: str, *, source: str = MASTER_KEY_ENV) -> MasterKey:
        """Parse URL-safe (or standard) base64 text; ``source`` names it in errors.

        Raises:
            MasterKeyError: Not base64, or not 32 bytes once decoded.
        """
        cleaned = text.strip().replace("+", "-").replace("/", "_")
        try:
            key = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            raise MasterKeyError(
                f"the master key in {source} is not base64; {_HOW}", source=source
            ) from None
        if len(key) != KEY_BYTES:
            raise MasterKeyError(
                f"the master key in {source} is {len(key)} bytes, expected {KEY_BYTES}; {_HOW}",
                source=source,
            )
        return cls(key)

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        """Read a key file, refusing one that anyone but its owner may read or write.

        Raises:
            MasterKeyError: Missing, unreadable, not private (mode 0600) or malformed.
        """
        try:
            mode = path.stat().st_mode
            if os.name == "posix" and mode & 0o077:
                raise MasterKeyError(
                    f"the master key file {path} has mode {stat.S_IMODE(mode):04o}: it must be "
                    f"private to its owner (mode 0600); run `chmod 600 {path}`, or {_HOW}",
                    path=str(path),
                )
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
            raise MasterKeyError(
                f"cannot read the master key file {path}: {reason}; {_HOW}", path=str(path)
            ) from None
        return cls.from_base64(text, source=str(path))

    def wrap(self, name: str, data_key: bytes) -> bytes:
        """``data_key`` encrypted for the secret ``name``: nonce + AES-GCM ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, self._aad(name))

    def unwrap(self, name: str, wrapped: bytes) -> bytes:
        """The data key of the secret ``name``.

        Raises:
            cryptography.exceptions.InvalidTag: Wrapped by another key, for another name,
                or altered.
        """
        nonce, ciphertext = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, self._aad(name))

    def _aad(self, name: str) -> bytes:
        return _WRAP_AAD + self.key_id.encode() + b"\x00" + name.encode()

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"

    def __reduce__(self) -> str:
        raise TypeError("a MasterKey cannot be pickled")


class Keyring:
    """The current master key (which wraps new data keys) and retired ones that still
    unwrap old data keys, by key id."""

    __slots__ = ("_keys", "current")

    def __init__(self, current: MasterKey, retired: Iterable[MasterKey] = ()) -> None:
        self.current = current
        self._keys = {key.key_id: key for key in retired}
        self._keys[current.key_id] = current

    def get(self, key_id: str) -> MasterKey | None:
        return self._keys.get(key_id)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def rotated(self, new: MasterKey) -> Keyring:
        """A keyring whose current key is ``new``, keeping every key of this one."""
        return Keyring(new, self._keys.values())

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.key_id!r}, keys={self.key_ids!r})"


def generate_master_key() -> str:
    """A new random master key as URL-safe base64 (for ``LOCKGATE_MASTER_KEY`` or a key
    file)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def create_key_file(path: Path) -> MasterKey:
    """Write a new master key to ``path``, created with mode 0600; never overwrites.

    Raises:
        MasterKeyError: ``path`` exists or cannot be created.
    """
    text = generate_master_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise MasterKeyError(
            f"{path} already exists; a key file is never overwritten", path=str(path)
        ) from None
    except OSError as exc:
        raise MasterKeyError(f"cannot create {path}: {exc.strerror}", path=str(path)) from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(text + "\n")
    return MasterKey.from_base64(text, source=str(path))


def load_master_key(
    *, environ: Mapping[str, str] | None = None, key_file: Path | None = None
) -> MasterKey:
    """The master key from ``key_file`` if given, else from ``LOCKGATE_MASTER_KEY``.

    Raises:
        MasterKeyError: Neither is set, or the one used is invalid or not private.
    """
    if key_file is not None:
        return MasterKey.from_file(key_file)
    text = (os.environ if environ is None else environ).get(MASTER_KEY_ENV)
    if not text:
        raise MasterKeyError(NO_KEY)
    return MasterKey.from_base64(text)
