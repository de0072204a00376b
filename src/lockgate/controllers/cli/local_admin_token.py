"""The local admin token: a secret ``lockgate serve`` keeps in a file only its owner can read
(mode 0600), so the CLI on the same machine, run by the same user, can call the gateway's
operator APIs without being handed a token. A loopback source address is no proof of
anything (any local process, or the gateway's own outbound requests, can use one); read
access to this file is.

The file is made once and reused across restarts, so a long-running script keeps working.
So that the CLI finds it from any folder, the gateway also notes, per port, where its token
file is, in a folder private to the user (``$XDG_RUNTIME_DIR/lockgate``, else
``~/.cache/lockgate``; ``LOCKGATE_RUNTIME_DIR`` overrides both).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from lockgate.errors import ConfigError

__all__ = [
    "LOCAL_TOKEN_PREFIX",
    "ensure_local_admin_token",
    "forget_local_gateway",
    "note_local_gateway",
    "noted_token_file",
    "read_local_admin_token",
]

LOCAL_TOKEN_PREFIX = "lga_"  # noqa: S105 - a prefix, not a secret
_TOKEN = re.compile(r"lga_[A-Za-z0-9_-]{43}")


def _private(path: Path) -> bool:
    info = path.stat()
    return (os.name != "posix" or not info.st_mode & 0o077) and (
        not hasattr(os, "getuid") or info.st_uid == os.getuid()
    )


def ensure_local_admin_token(path: Path) -> str:
    """The token in ``path``, made (with its folder, mode 0700) when there is none.

    Raises:
        ConfigError: The file exists but others may read it or it is not ours, it holds
            something else, or it cannot be made; the message says how to fix it.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _existing(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the local admin token file {path}: {exc.strerror}; set "
            "LOCKGATE_ADMIN_TOKEN_FILE to a writable path",
            key="admin_token_file",
        ) from None
    token = LOCAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token + "\n")
    return token


def _existing(path: Path) -> str:
    try:
        if not _private(path):
            mode = stat.S_IMODE(path.stat().st_mode)
            raise ConfigError(
                f"the local admin token file {path} (mode {mode:04o}) may be read by others "
                f"or belongs to another user: delete it (a new one is made), or `chmod 600 "
                f"{path}`",
                key="admin_token_file",
            )
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise ConfigError(
            f"cannot read the local admin token file {path}: {reason}", key="admin_token_file"
        ) from None
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"{path} does not hold a local admin token; delete it and a new one is made",
            key="admin_token_file",
        )
    return token


def read_local_admin_token(path: Path) -> str | None:
    """The token in ``path`` when it is there, private and well formed; else None (the CLI
    then goes without it)."""
    try:
        if not _private(path):
            return None
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token if _TOKEN.fullmatch(token) else None


def _runtime_dir() -> Path:
    if given := os.environ.get("LOCKGATE_RUNTIME_DIR"):
        return Path(given)
    if runtime := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "lockgate"
    return Path.home() / ".cache" / "lockgate"


def _note(port: int) -> Path:
    return _runtime_dir() / f"port-{port}"


def note_local_gateway(port: int, token_file: Path) -> None:
    """Note that the gateway on ``port`` keeps its token in ``token_file``. Best effort: a
    note that cannot be written only means the CLI must be told where the token is."""
    note = _note(port)
    try:
        note.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = note.with_name(f".{note.name}.{os.getpid()}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(str(token_file.resolve()) + "\n")
        partial.replace(note)
    except OSError:
        return


def forget_local_gateway(port: int, token_file: Path) -> None:
    """Remove the note of ``port`` if it still names ``token_file``."""
    if noted_token_file(port) == token_file.resolve():
        with contextlib.suppress(OSError):
            _note(port).unlink()


def noted_token_file(port: int) -> Path | None:
    """The token file the gateway on ``port`` noted, if a private note names one."""
    note = _note(port)
    try:
        if not _private(note):
            return None
        text = note.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(text) if text else None
