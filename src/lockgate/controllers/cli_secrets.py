"""``lockgate secrets``: create a master key, store, list, delete and re-key secrets.

Secrets live on the run store's database (the SQLite file, or the PostgreSQL DSN, that
``--config`` / ``LOCKGATE_RUN_STORE`` name), encrypted by the master key from ``--key-file``
/ ``LOCKGATE_MASTER_KEY_FILE`` (a mode 0600 file) or ``LOCKGATE_MASTER_KEY`` (base64).

No command prints a value, and none takes one from argv unless asked (``--value-json``):
argv is visible to every user in ``ps``. Exit codes: 0 done, 1 the store failed, 2 bad input
(no master key or the wrong one, no such secret, a malformed value or option).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from lockgate.use_cases.master_key import MasterKey
    from lockgate.use_cases.secret_manager import SecretManager

__all__ = ["secrets_app"]

EXIT_STORE_FAILED = 1
EXIT_BAD_INPUT = 2
KEY_FILE_ENV = "LOCKGATE_MASTER_KEY_FILE"

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The lockgate.toml whose run store holds the secrets (or LOCKGATE_CONFIG).",
    ),
]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        envvar=KEY_FILE_ENV,
        help="The master key file (mode 0600); otherwise LOCKGATE_MASTER_KEY (base64).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]

secrets_app = typer.Typer(
    help="Manage the secrets functions read: values are encrypted at rest and never printed.",
    no_args_is_help=True,
)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(config: Path | None, work: Callable[[SecretManager], Awaitable[T]], key: MasterKey) -> T:
    """Opens the secret store ``config`` names, runs ``work`` with a manager holding
    ``key``, closes the store; lockgate's errors become a message and an exit code."""
    from lockgate.bootstrap import secret_store  # noqa: PLC0415
    from lockgate.errors import LockgateError, SecretStoreError  # noqa: PLC0415
    from lockgate.settings import load_settings  # noqa: PLC0415
    from lockgate.use_cases.secret_manager import SecretManager  # noqa: PLC0415

    async def main() -> T:
        settings, _ = load_settings(config)
        store = secret_store(settings)
        await store.open()
        try:
            return await work(SecretManager(store, key, cache_ttl=0))
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except SecretStoreError as exc:
        _fail(exc.message, EXIT_STORE_FAILED)
    except LockgateError as exc:  # bad config, unknown name, wrong key, invalid value
        _fail(exc.message)


def _master_key(key_file: Path | None) -> MasterKey:
    from lockgate.errors import MasterKeyError  # noqa: PLC0415
    from lockgate.use_cases.master_key import load_master_key  # noqa: PLC0415

    try:
        return load_master_key(key_file=key_file)
    except MasterKeyError as exc:
        _fail(exc.message)


def _check_key(manager: SecretManager, metas: list[Any], what: str) -> None:
    """Refuses (MasterKeyError) when a secret in ``metas`` is under another master key."""
    from lockgate.errors import MasterKeyError  # noqa: PLC0415

    foreign = sorted({meta.key_id for meta in metas} - {manager.key_id})
    if foreign:
        raise MasterKeyError(
            f"wrong master key: {what} is encrypted under master key {', '.join(foreign)}, "
            f"but the configured master key is {manager.key_id}"
        )


# -- init-key ------------------------------------------------------------------------------


@secrets_app.command("init-key")
def init_key(
    *,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Where to create the key (default: .lockgate/master.key beside the config).",
        ),
    ] = None,
    config: ConfigOption = None,
    print_key: Annotated[
        bool, typer.Option("--print", help="Also print the key itself (base64) to stdout.")
    ] = False,
) -> None:
    """Create a new master key in a file private to its owner (mode 0600).

    An existing file is never overwritten; the key is printed only with --print.
    """
    from lockgate.errors import MasterKeyError  # noqa: PLC0415
    from lockgate.use_cases.master_key import create_key_file  # noqa: PLC0415

    if key_file is None:
        config_path = config
        if config_path is None and (env_config := os.environ.get("LOCKGATE_CONFIG")):
            config_path = Path(env_config)
        base = config_path.parent if config_path is not None else Path.cwd()
        key_file = base / ".lockgate" / "master.key"
    try:
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create {key_file.parent}: {exc.strerror}")
    try:
        key = create_key_file(key_file)
    except MasterKeyError as exc:
        _fail(exc.message)
    path = key_file.resolve()
    typer.echo(f"created master key {key.key_id} in {path} (mode 0600)", err=True)
    typer.echo(
        f"use it with --key-file {path}, or export {KEY_FILE_ENV}={path}, or put the key's "
        "text in LOCKGATE_MASTER_KEY; keep a backup: without it the secrets are lost",
        err=True,
    )
    if print_key:
        typer.echo(path.read_text(encoding="ascii").strip())
    else:
        typer.echo(str(path))


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
            _fail("no value on stdin (pipe the value in, or give --value-json)")
        if not as_json:
            return text
        source = "stdin"
    try:
        return json.loads(text)
    except ValueError as exc:
        _fail(f"the value from {source} is not JSON ({exc})")


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
    key = _master_key(key_file)
    value = _read_value(value_json, as_json)

    async def work(manager: SecretManager) -> Any:
        return await manager.store_secret(name, value)

    meta = _run(config, work, key)
    typer.echo(f"stored secret {meta.name} (version {meta.version}, master key {meta.key_id})")


# -- list ----------------------------------------------------------------------------------


@secrets_app.command("list")
def list_secrets(
    *,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """The secrets' names and metadata (never their values)."""
    from lockgate.controllers.cli_render import stdout  # noqa: PLC0415

    key = _master_key(key_file)

    async def work(manager: SecretManager) -> list[Any]:
        return await manager.list_secrets()

    metas = _run(config, work, key)
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
        typer.echo(json.dumps({"secrets": rows, "key_id": key.key_id}, indent=2))
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
    key = _master_key(key_file)

    async def work(manager: SecretManager) -> None:
        from lockgate.errors import SecretNotFoundError  # noqa: PLC0415

        metas = [meta for meta in await manager.list_secrets() if meta.name == name]
        if not metas:
            raise SecretNotFoundError(f"no secret named {name!r}", secret=name)
        _check_key(manager, metas, f"secret {name!r}")
        await manager.delete_secret(name)

    _run(config, work, key)
    typer.echo(f"deleted secret {name}")


# -- rotate --------------------------------------------------------------------------------


@secrets_app.command("rotate")
def rotate(
    *,
    new_key_file: Annotated[
        Path,
        typer.Option(
            "--new-key-file",
            help="The new master key file (mode 0600; make one with `secrets init-key`).",
        ),
    ],
    config: ConfigOption = None,
    key_file: KeyFileOption = None,
) -> None:
    """Rewrap every secret's data key with a new master key.

    The current key comes from --key-file, LOCKGATE_MASTER_KEY_FILE or LOCKGATE_MASTER_KEY.
    """
    old_key = _master_key(key_file)
    new_key = _master_key(new_key_file)
    if new_key.key_id == old_key.key_id:
        _fail(f"the new master key is the current one ({old_key.key_id}): nothing to rotate")

    async def work(manager: SecretManager) -> int:
        _check_key(manager, await manager.list_secrets(), "the secrets database")
        return await manager.rotate_master_key(new_key)

    count = _run(config, work, old_key)
    typer.echo(
        f"rewrapped {count} secret(s) from master key {old_key.key_id} to {new_key.key_id}; "
        f"use {new_key_file} from now on (the old key no longer opens them)"
    )
