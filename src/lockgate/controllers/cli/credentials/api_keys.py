"""``lockgate api-keys``: make, list and revoke the API keys callers send as ``x-api-key`` to
routes with ``api_key_required``.

Keys live beside the tokens on the run store's database, hashed: a key is printed once,
when it is made. Each belongs to a usage plan declared in the config these commands read
(``--config`` / ``LOCKGATE_CONFIG``). Running gateways accept a new key at once and refuse a
revoked one within ``[auth] token_cache_ttl`` (5 s).

Exit codes: those of ``common``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockgate.controllers.cli.credentials.common import JsonOption, config_option, with_store

if TYPE_CHECKING:
    from lockgate.models.gateway_config import GatewayConfig
    from lockgate.use_cases.auth.credentials import CredentialService

__all__ = ["api_keys_app"]

ConfigOption = Annotated[Path | None, config_option("keys and declares the usage plans")]

api_keys_app = typer.Typer(
    help="Manage the API keys routes with api_key_required take (stored hashed; shown once).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@api_keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The key's name (lists and logs show it).")],
    *,
    plan: Annotated[str, typer.Option("--plan", help="A usage plan declared in the config.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an API key and print it (once: only its hash is kept)."""
    from lockgate.models.security.principals import CredentialKind  # noqa: PLC0415
    from lockgate.use_cases.auth.usage.api_keys import check_plan  # noqa: PLC0415

    async def make(keys: CredentialService, gateway: GatewayConfig) -> tuple[str, str, str]:
        declared = gateway.security.usage_plans
        credential, secret = await keys.create(
            CredentialKind.API_KEY, name, plan=check_plan(plan, declared)
        )
        return credential.name, credential.credential_id, secret

    made, key_id, secret = with_store(config, "keys", make)
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
    from lockgate.controllers.cli.gateway_client import ago, when  # noqa: PLC0415
    from lockgate.models.security.principals import CredentialKind  # noqa: PLC0415

    listed = with_store(config, "keys", lambda keys, _: keys.list(CredentialKind.API_KEY))
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

    from lockgate.controllers.cli.render import stdout  # noqa: PLC0415

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
    from lockgate.models.security.principals import CredentialKind  # noqa: PLC0415

    with_store(config, "keys", lambda keys, _: keys.revoke(CredentialKind.API_KEY, name))
    typer.echo(f"revoked API key {name}")
