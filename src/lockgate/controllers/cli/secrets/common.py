"""What the ``lockgate secrets`` commands share: the typer app, their options, and running
a command against the secret store with a master key, errors turned into exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from lockgate.use_cases.secrets.manager import SecretManager
    from lockgate.use_cases.secrets.master_key import MasterKey

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_STORE_FAILED",
    "KEY_FILE_ENV",
    "ConfigOption",
    "JsonOption",
    "KeyFileOption",
    "check_key",
    "fail",
    "master_key",
    "run_on_store",
    "run_with_manager",
    "secrets_app",
]

EXIT_STORE_FAILED = 1
EXIT_BAD_INPUT = 2
KEY_FILE_ENV = "LOCKGATE_MASTER_KEY_FILE"

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The lockgate.toml whose run store holds the secrets (or LOCKGATE_CONFIG, or "
        "./lockgate.toml, as lockgate serve finds it).",
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
    rich_markup_mode=None,
)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``message`` in red on stderr and exit with ``code``."""
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def run_with_manager(
    config: Path | None, work: Callable[[SecretManager], Awaitable[T]], key: MasterKey
) -> T:
    """``run_on_store``'s result alone (for commands that only read)."""
    return run_on_store(config, work, key)[0]


def run_on_store(
    config: Path | None, work: Callable[[SecretManager], Awaitable[T]], key: MasterKey
) -> tuple[T, str]:
    """Opens the secret store of the config ``lockgate serve`` would find (``config``, else
    ``LOCKGATE_CONFIG``, else ``./lockgate.toml``), runs ``work`` with a manager holding
    ``key``, closes the store; lockgate's errors become a message and an exit code.

    Returns:
        What ``work`` returned, and where the store is, for people: the database and the
        config it came from (or that none was found), so a write never goes astray silently.
    """
    from lockgate.bootstrap import secret_store  # noqa: PLC0415
    from lockgate.config.locations import describe_store  # noqa: PLC0415
    from lockgate.config.settings import load_settings  # noqa: PLC0415
    from lockgate.errors import LockgateError, SecretStoreError  # noqa: PLC0415
    from lockgate.use_cases.secrets.manager import SecretManager  # noqa: PLC0415

    async def main() -> tuple[T, str]:
        settings, _ = load_settings(config)
        store = secret_store(settings)
        await store.open()
        try:
            done = await work(SecretManager(store, key, cache_ttl=0))
        finally:
            await store.close()
        if settings.config is not None:
            source = f"the config {settings.config}"
        else:
            source = "no config: no --config, LOCKGATE_CONFIG or ./lockgate.toml"
            if settings.run_store is None:
                source += "; the store a gateway served from this folder without one uses"
        return done, f"{describe_store(settings)} ({source})"

    try:
        return asyncio.run(main())
    except SecretStoreError as exc:
        fail(exc.message, EXIT_STORE_FAILED)
    except LockgateError as exc:  # bad config, unknown name, wrong key, invalid value
        fail(exc.message)


def master_key(key_file: Path | None) -> MasterKey:
    """The master key from ``key_file``, else ``LOCKGATE_MASTER_KEY``; exits 2 if unusable."""
    from lockgate.errors import MasterKeyError  # noqa: PLC0415
    from lockgate.use_cases.secrets.master_key import load_master_key  # noqa: PLC0415

    try:
        return load_master_key(key_file=key_file)
    except MasterKeyError as exc:
        fail(exc.message)


def check_key(manager: SecretManager, metas: list[Any], what: str) -> None:
    """Refuses (MasterKeyError) when a secret in ``metas`` is under another master key."""
    from lockgate.errors import MasterKeyError  # noqa: PLC0415

    foreign = sorted({meta.key_id for meta in metas} - {manager.key_id})
    if foreign:
        raise MasterKeyError(
            f"wrong master key: {what} is encrypted under master key {', '.join(foreign)}, "
            f"but the configured master key is {manager.key_id}"
        )
