"""``lockgate tokens``: make, list and revoke the bearer tokens callers present.

Tokens live on the run store's database (the SQLite file, or the PostgreSQL DSN, that
``--config`` / ``LOCKGATE_CONFIG`` / ``LOCKGATE_RUN_STORE`` name), hashed: a token is printed
once, when it is made, and can never be shown again. These commands work on the store
directly, so they work before any gateway is running (a gateway on a public address needs a
token to start with); running gateways accept a new token at once and stop accepting a
revoked one within ``[auth] token_cache_ttl`` (5 s).

Exit codes: 0 done, 1 the store failed, 2 bad input (a bad name or scope, a name in use, no
such token).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from lockgate.use_cases.auth.credentials import CredentialService

__all__ = ["tokens_app"]

EXIT_STORE_FAILED = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="The lockgate.toml whose run store holds the tokens (or LOCKGATE_CONFIG)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]

tokens_app = typer.Typer(
    help="Manage the bearer tokens callers present (stored hashed; shown once).",
    no_args_is_help=True,
)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(config: Path | None, work: Callable[[CredentialService], Awaitable[T]]) -> T:
    """Opens the credential store ``config`` names, runs ``work``, closes the store;
    lockgate's errors become a message and an exit code."""
    from lockgate.bootstrap import credential_store  # noqa: PLC0415
    from lockgate.errors import LockgateError, RunStoreError  # noqa: PLC0415
    from lockgate.settings import load_settings  # noqa: PLC0415
    from lockgate.use_cases.auth.credentials import CredentialService  # noqa: PLC0415

    async def main() -> T:
        settings, _ = load_settings(config)
        if settings.run_store == "memory://":
            _fail(
                "the run store is memory://: tokens kept there would vanish with this "
                "command; name the gateway's store (--config, LOCKGATE_RUN_STORE)"
            )
        store = credential_store(settings)
        await store.open()
        try:
            return await work(CredentialService(store, cache_ttl=0))
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except RunStoreError as exc:
        _fail(exc.message, EXIT_STORE_FAILED)
    except LockgateError as exc:  # a bad config, name or scope; a name in use; none by that name
        _fail(exc.message)


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
    from lockgate.models.auth import CredentialKind  # noqa: PLC0415

    credential, secret = _run(
        config, lambda tokens: tokens.create(CredentialKind.TOKEN, name, scopes=scope)
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
    from lockgate.controllers.cli_http import ago, when  # noqa: PLC0415
    from lockgate.models.auth import CredentialKind  # noqa: PLC0415

    listed = _run(config, lambda tokens: tokens.list(CredentialKind.TOKEN))
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

    from lockgate.controllers.cli_render import stdout  # noqa: PLC0415

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
    from lockgate.models.auth import CredentialKind  # noqa: PLC0415

    _run(config, lambda tokens: tokens.revoke(CredentialKind.TOKEN, name))
    typer.echo(f"revoked token {name}")
