"""What ``lockgate tokens`` and ``lockgate api-keys`` share: opening the credential store
the config names (beside the runs: a gateway on a public address can be given its first
token before it starts), the declared configuration, and errors as messages and exit codes.

Exit codes: 0 done, 1 the store failed, 2 bad input (a bad name, scope or plan, a name in
use, none by that name).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from lockgate.models.gateway_config import GatewayConfig
    from lockgate.use_cases.auth.credentials import CredentialService

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_STORE_FAILED",
    "JsonOption",
    "config_option",
    "fail",
    "with_store",
]

EXIT_STORE_FAILED = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]


def config_option(what: str) -> object:
    """The ``--config`` option of a command whose ``what`` the config's store holds."""
    return typer.Option(
        "--config", help=f"The lockgate.toml whose run store holds the {what} (or LOCKGATE_CONFIG)."
    )


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """``lockgate: <message>`` on stderr, then exit with ``code``."""
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def with_store(
    config: Path | None,
    what: str,
    work: Callable[[CredentialService, GatewayConfig], Awaitable[T]],
) -> T:
    """Open the credential store ``config`` names, run ``work`` with it and the declared
    configuration, close the store; lockgate's errors become a message and an exit code.

    Args:
        config: The ``lockgate.toml`` (else ``LOCKGATE_CONFIG``, or none).
        what: What is kept there (``tokens``, ``keys``), for messages.
        work: What to do.
    """
    from lockgate.bootstrap import credential_store  # noqa: PLC0415
    from lockgate.config.settings import load_settings  # noqa: PLC0415
    from lockgate.errors import LockgateError, RunStoreError  # noqa: PLC0415
    from lockgate.use_cases.auth.credentials import CredentialService  # noqa: PLC0415

    async def main() -> T:
        settings, gateway = load_settings(config)
        if settings.run_store == "memory://":
            fail(
                f"the run store is memory://: {what} kept there would vanish with this "
                "command; name the gateway's store (--config, LOCKGATE_RUN_STORE)"
            )
        store = credential_store(settings)
        await store.open()
        try:
            return await work(CredentialService(store, cache_ttl=0), gateway)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except RunStoreError as exc:
        fail(exc.message, EXIT_STORE_FAILED)
    except LockgateError as exc:  # a bad config, name, scope or plan; in use; none by that name
        fail(exc.message)
