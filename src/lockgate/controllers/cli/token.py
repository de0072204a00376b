"""The token every CLI command that calls a gateway presents: ``--token``, else
``LOCKGATE_TOKEN`` (or the older ``LOCKGATE_ADMIN_TOKEN``), else, for a gateway on this
machine, the local admin token ``lockgate serve`` keeps beside its run store.

The local token is only ever sent to a loopback URL: sent elsewhere it would hand a remote
server the keys to the local gateway.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

__all__ = ["TOKEN_ENV", "TokenOption", "resolve_token"]

TOKEN_ENV = "LOCKGATE_TOKEN"  # noqa: S105 - a variable name

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=[TOKEN_ENV, "LOCKGATE_ADMIN_TOKEN"],
        help="A bearer token (lockgate tokens create); by default, for a gateway on this "
        "machine, its local admin token.",
        show_default=False,
    ),
]


def resolve_token(token: str | None, url: str) -> str | None:
    """``token`` when given; else the local admin token when ``url`` is on loopback and its
    file can be found: the one the gateway on that port noted, else
    ``LOCKGATE_ADMIN_TOKEN_FILE``, else beside the run store that ``LOCKGATE_CONFIG`` /
    ``LOCKGATE_RUN_STORE`` name, else ``./.lockgate/admin.token``."""
    if token:
        return token
    from lockgate.use_cases.auth.exposure import is_loopback_host  # noqa: PLC0415

    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if host is None or not is_loopback_host(host):
        return None
    from lockgate.controllers.cli.local_admin_token import (  # noqa: PLC0415
        noted_token_file,
        read_local_admin_token,
    )

    noted = noted_token_file(port)
    found = read_local_admin_token(noted) if noted is not None else None
    return found or read_local_admin_token(_token_file())


def _token_file() -> Path:
    from lockgate.config.locations import local_admin_token_path  # noqa: PLC0415
    from lockgate.config.settings import load_settings  # noqa: PLC0415
    from lockgate.errors import LockgateError  # noqa: PLC0415

    if given := os.environ.get("LOCKGATE_ADMIN_TOKEN_FILE"):
        return Path(given)
    try:
        settings, _ = load_settings()
    except LockgateError:  # a broken config is the gateway's problem; fall back to cwd
        return Path.cwd() / ".lockgate" / "admin.token"
    return local_admin_token_path(settings)
