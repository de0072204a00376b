"""``lockgate api-keys``: make, list and revoke the API keys callers send as ``x-api-key`` to
routes with ``api_key_required``.

Keys live beside the tokens on the run store's database, hashed: a key is printed once,
when it is made. Each belongs to a usage plan declared in the config these commands read
(``--config`` / ``LOCKGATE_CONFIG``). Running gateways accept a new key at once and refuse a
revoked one within ``[auth] token_cache_ttl`` (5 s).

Exit codes: 0 done, 1 the store failed, 2 bad input (a bad name, an undeclared plan, a name
in use, no such key).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from lockgate.models.authorizers import UsagePlan
    from lockgate.use_cases.auth.credentials import CredentialService

__all__ = ["api_keys_app"]

EXIT_STORE_FAILED = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The lockgate.toml declaring the usage plans, whose run store holds the keys "
        "(or LOCKGATE_CONFIG).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]

api_keys_app = typer.Typer(
    help="Manage the API keys routes with api_key_required take (stored hashed; shown once).",
    no_args_is_help=True,
)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(
    config: Path | None,
    work: Callable[[CredentialService, Mapping[str, UsagePlan]], Awaitable[T]],
) -> T:
    """Opens the credential store ``config`` names, runs ``work`` with it and the declared
    usage plans, closes the store; lockgate's errors become a message and an exit code."""
    from lockgate.bootstrap import credential_store  # noqa: PLC0415
    from lockgate.errors import LockgateError, RunStoreError  # noqa: PLC0415
    from lockgate.settings import load_settings  # noqa: PLC0415
    from lockgate.use_cases.auth.credentials import CredentialService  # noqa: PLC0415

    async def main() -> T:
        settings, gateway = load_settings(config)
        if settings.run_store == "memory://":
            _fail(
                "the run store is memory://: keys kept there would vanish with this "
                "command; name the gateway's store (--config, LOCKGATE_RUN_STORE)"
            )
        store = credential_store(settings)
        await store.open()
        try:
            return await work(CredentialService(store, cache_ttl=0), gateway.security.usage_plans)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except RunStoreError as exc:
        _fail(exc.message, EXIT_STORE_FAILED)
    except LockgateError as exc:  # a bad config, name or plan; a name in use; none by that name
        _fail(exc.message)


@api_keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The key's name (lists and logs show it).")],
    *,
    plan: Annotated[str, typer.Option("--plan", help="A usage plan declared in the config.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an API key and print it (once: only its hash is kept)."""
    from lockgate.models.auth import CredentialKind  # noqa: PLC0415
    from lockgate.use_cases.auth.usage.api_keys import check_plan  # noqa: PLC0415

    async def make(keys: CredentialService, plans: Mapping[str, UsagePlan]) -> tuple[str, str, str]:
        credential, secret = await keys.create(
            CredentialKind.API_KEY, name, plan=check_plan(plan, plans)
        )
        return credential.name, credential.credential_id, secret

    made, key_id, secret = _run(config, make)
    if as_json:
        typer.echo(json.dumps({"name": made, "id": key_id, "plan": plan, "key": secret}))
        return
    typer.echo(
        f"created API key {made} (id {key_id}, plan {plan}); it is shown once, keep it now:",
        err=True,
    )
    typer.echo(secret)


@api_keys_app.command("list")
def list_keys(*, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The keys' names, ids, plans and times (never a key)."""
    from lockgate.controllers.cli_http import ago, when  # noqa: PLC0415
    from lockgate.models.auth import CredentialKind  # noqa: PLC0415

    listed = _run(config, lambda keys, _: keys.list(CredentialKind.API_KEY))
    if as_json:
        rows = [
            {
                "name": c.name,
                "id": c.credential_id,
                "plan": c.plan,
                "created_at": c.created_at,
                "last_used_at": c.last_used_at,
            }
            for c in listed
        ]
        typer.echo(json.dumps({"api_keys": rows}, indent=2))
        return
    if not listed:
        typer.echo("no API keys", err=True)
        return
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from lockgate.controllers.cli_render import stdout  # noqa: PLC0415

    table = Table(box=box.SIMPLE_HEAD)
    for column in ("NAME", "ID", "PLAN", "CREATED", "LAST USED"):
        table.add_column(column)
    for c in listed:
        used = ago(c.last_used_at) or "never"
        table.add_row(c.name, c.credential_id, c.plan or "-", when(c.created_at), used)
    stdout().print(table)


@api_keys_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The API key to revoke.")],
    *,
    config: ConfigOption = None,
) -> None:
    """Revoke an API key: gateways refuse it within [auth] token_cache_ttl (5 s)."""
    from lockgate.models.auth import CredentialKind  # noqa: PLC0415

    _run(config, lambda keys, _: keys.revoke(CredentialKind.API_KEY, name))
    typer.echo(f"revoked API key {name}")
