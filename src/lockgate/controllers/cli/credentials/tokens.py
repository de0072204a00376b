"""``lockgate tokens``: make, list and revoke the bearer tokens callers present.

Tokens live on the run store's database (the SQLite file, or the PostgreSQL DSN, that
``--config`` / ``LOCKGATE_CONFIG`` / ``LOCKGATE_RUN_STORE`` name), hashed: a token is printed
once, when it is made, and can never be shown again. These commands work on the store
directly, so they work before any gateway is running (a gateway on a public address needs a
token to start with); running gateways accept a new token at once and stop accepting a
revoked one within ``[auth] token_cache_ttl`` (5 s).

Exit codes: those of ``common``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lockgate.controllers.cli.credentials.common import JsonOption, config_option, with_store

__all__ = ["tokens_app"]

ConfigOption = Annotated[Path | None, config_option("tokens")]

tokens_app = typer.Typer(
    help="Manage the bearer tokens callers present (stored hashed; shown once).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The token's name (runs it starts record it).")],
    *,
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="A scope the token carries (repeat): functions:invoke, workflows:run, "
            "runs:read, runs:read:own, runs:cancel, ops:read, admin; functions:invoke:NAME "
            "and workflows:run:NAME narrow to names (* and ? allowed).",
        ),
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a token and print it (once: only its hash is kept)."""
    from lockgate.models.security.principals import CredentialKind  # noqa: PLC0415

    credential, secret = with_store(
        config, "tokens", lambda tokens, _: tokens.create(CredentialKind.TOKEN, name, scopes=scope)
    )
    if as_json:
        typer.echo(json.dumps({"name": credential.name, "scopes": scope, "token": secret}))
        return
    typer.echo(
        f"created token {credential.name} ({' '.join(credential.scopes)}); it is shown once, "
        "keep it now:",
        err=True,
    )
    typer.echo(secret)


@tokens_app.command("list")
def list_tokens(*, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The tokens' names, scopes and times (never a token)."""
    from lockgate.controllers.cli.gateway_client import ago, when  # noqa: PLC0415
    from lockgate.models.security.principals import CredentialKind  # noqa: PLC0415

    listed = with_store(config, "tokens", lambda tokens, _: tokens.list(CredentialKind.TOKEN))
    rows = [
        {
            "name": c.name,
            "scopes": list(c.scopes),
            "created_at": c.created_at,
            "last_used_at": c.last_used_at,
        }
        for c in listed
    ]
    if as_json:
        typer.echo(json.dumps({"tokens": rows}, indent=2))
        return
    if not rows:
        typer.echo("no tokens", err=True)
        return
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from lockgate.controllers.cli.render import stdout  # noqa: PLC0415

    table = Table(box=box.SIMPLE_HEAD)
    for column in ("NAME", "SCOPES", "CREATED", "LAST USED"):
        table.add_column(column)
    for credential in listed:
        used = ago(credential.last_used_at) or "never"
        table.add_row(
            credential.name, " ".join(credential.scopes), when(credential.created_at), used
        )
    stdout().print(table)


@tokens_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token to revoke.")],
    *,
    config: ConfigOption = None,
) -> None:
    """Revoke a token: gateways refuse it within [auth] token_cache_ttl (5 s)."""
    from lockgate.models.security.principals import CredentialKind  # noqa: PLC0415

    with_store(config, "tokens", lambda tokens, _: tokens.revoke(CredentialKind.TOKEN, name))
    typer.echo(f"revoked token {name}")
