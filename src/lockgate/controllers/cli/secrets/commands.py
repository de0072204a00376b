"""``lockgate secrets``: create a master key, store, list, delete, re-key secrets, retire keys.

Secrets live on the run store's database (the SQLite file, or the PostgreSQL DSN, that
the config names: ``--config``, else ``LOCKGATE_CONFIG``, else ``./lockgate.toml``, as
``lockgate serve`` finds it; ``LOCKGATE_RUN_STORE`` overrides); a write says which store it
went to. They are encrypted by the master key from ``--key-file``
/ ``LOCKGATE_MASTER_KEY_FILE`` (a mode 0600 file) or ``LOCKGATE_MASTER_KEY`` (base64).

``rotate`` keeps each secret's wrapping by the old key (so gateways still running with it keep
reading) until ``retire-key`` drops them; ``rotate --retire`` drops them at once.

The key commands (``init-key``, ``rotate``, ``retire-key``) are in ``keys``.

No command prints a value, and none takes one from argv unless asked (``--value-json``):
argv is visible to every user in ``ps``. Exit codes: 0 done, 1 the store failed, 2 bad input
(no master key or the wrong one, no such secret, a malformed value or option).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lockgate.controllers.cli.secrets.common import (
    ConfigOption,
    JsonOption,
    KeyFileOption,
    check_key,
    fail,
    master_key,
    run_on_store,
    run_with_manager,
    secrets_app,
)
from lockgate.controllers.cli.secrets.keys import init_key, retire_key, rotate

if TYPE_CHECKING:
    from lockgate.models.secret import SecretKeyState
    from lockgate.use_cases.secrets.manager import SecretManager

__all__ = ["secrets_app"]

# Registered here, in the order `lockgate secrets --help` lists them (init-key first).
secrets_app.command("init-key")(init_key)


# -- set -----------------------------------------------------------------------------------


def _read_value(value_json: str | None, as_json: bool) -> Any:
    if value_json is not None:
        text, source = value_json, "--value-json"
    else:
        if sys.stdin.isatty():
            text = typer.prompt("Value", hide_input=True)
        else:
            text = sys.stdin.read()
            # `echo value | lockgate secrets set NAME`: the newline is not the value's.
            text = text.removesuffix("\n").removesuffix("\r")
        if not text:
            fail("no value on stdin (pipe the value in, or give --value-json)")
        if not as_json:
            return text
        source = "stdin"
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"the value from {source} is not JSON ({exc})")


@secrets_app.command("set")
def set_secret(
    name: Annotated[str, typer.Argument(help="The secret's name.")],
    *,
    value_json: Annotated[
        str | None,
        typer.Option(
            "--value-json",
            help="The value as JSON, from argv (visible in `ps`: prefer stdin).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Parse stdin as JSON (otherwise it is stored as a string)."),
    ] = False,
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """Store a secret read from stdin (a string, or JSON with --json).

    A secret of that name is replaced (its version goes up).
    """
    key = master_key(key_file)
    value = _read_value(value_json, as_json)

    async def work(manager: SecretManager) -> Any:
        return await manager.store_secret(name, value)

    meta, store = run_on_store(config, work, key)
    typer.echo(
        f"stored secret {meta.name} (version {meta.version}, master key {meta.key_id}) in {store}"
    )


# -- list ----------------------------------------------------------------------------------


@secrets_app.command("list")
def list_secrets(
    *,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """The secrets' names and metadata (never their values)."""
    from lockgate.controllers.cli.render import stdout  # noqa: PLC0415

    key = master_key(key_file)

    async def work(manager: SecretManager) -> tuple[list[Any], SecretKeyState]:
        return await manager.list_secrets(), await manager.key_state()

    metas, state = run_with_manager(config, work, key)
    rows = [
        {
            "name": meta.name,
            "version": meta.version,
            "key_id": meta.key_id,
            "created_at": meta.created_at,
            "updated_at": meta.updated_at,
        }
        for meta in metas
    ]
    if as_json:
        listing = {
            "secrets": rows,
            "key_id": key.key_id,
            "current_key_id": state.current_key_id,
            "previous_key_ids": state.previous_key_ids,
        }
        typer.echo(json.dumps(listing, indent=2))
        return
    if not rows:
        typer.echo("no secrets", err=True)
        return
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(box=box.SIMPLE_HEAD)
    for column in ("NAME", "VERSION", "MASTER KEY", "CREATED", "UPDATED"):
        table.add_column(column)
    for row in rows:
        mark = "" if row["key_id"] == key.key_id else " (not the configured key)"
        table.add_row(
            row["name"],
            str(row["version"]),
            f"{row['key_id']}{mark}",
            _when(row["created_at"]),
            _when(row["updated_at"]),
        )
    stdout().print(table)
    if state.previous_key_ids:
        typer.echo(
            f"the old master key(s) {', '.join(state.previous_key_ids)} still open secrets "
            "wrapped before the last rotation: `lockgate secrets retire-key` drops them",
            err=True,
        )


def _when(stamp: float) -> str:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


# -- delete --------------------------------------------------------------------------------


@secrets_app.command("delete")
def delete_secret(
    name: Annotated[str, typer.Argument(help="The secret to delete.")],
    *,
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """Delete a secret (it needs the master key it was stored under)."""
    key = master_key(key_file)

    async def work(manager: SecretManager) -> None:
        from lockgate.errors import SecretNotFoundError  # noqa: PLC0415

        metas = [meta for meta in await manager.list_secrets() if meta.name == name]
        if not metas:
            raise SecretNotFoundError(f"no secret named {name!r}", secret=name)
        check_key(manager, metas, f"secret {name!r}")
        await manager.delete_secret(name)

    _, store = run_on_store(config, work, key)
    typer.echo(f"deleted secret {name} from {store}")


secrets_app.command("rotate")(rotate)
secrets_app.command("retire-key")(retire_key)
