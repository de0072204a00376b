"""The ``lockgate`` command line."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockgate.controllers.cli_api_keys import api_keys_app
from lockgate.controllers.cli_check import check
from lockgate.controllers.cli_invocations import invocations_app
from lockgate.controllers.cli_jobs import jobs_app
from lockgate.controllers.cli_runs import run, runs_app
from lockgate.controllers.cli_secrets import secrets_app
from lockgate.controllers.cli_tokens import tokens_app
from lockgate.controllers.http.listener_limits import (
    ListenerLimits,
    connection_budget,
    raise_open_file_limit,
)

if TYPE_CHECKING:
    from lockgate.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="Lockgate: functions, workflows and modules behind one gateway.", no_args_is_help=True
)
logger = logging.getLogger("lockgate")


@app.callback()
def _root() -> None:
    """Lockgate's commands."""


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(help="The lockgate.toml to serve.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING ...")] = None,
) -> None:
    """Serve the functions, routes and workflows declared in a lockgate.toml."""
    # Imported here: the client commands (run, runs) should not pay ~2 s for the server.
    import uvicorn  # noqa: PLC0415

    from lockgate.bootstrap import (  # noqa: PLC0415
        build,
        check_access,
        check_run_store,
        check_secrets,
        local_admin_token_path,
    )
    from lockgate.controllers.http.app import create_app  # noqa: PLC0415
    from lockgate.controllers.log_setup import configure_logging  # noqa: PLC0415
    from lockgate.controllers.server_options import server_config  # noqa: PLC0415
    from lockgate.errors import LockgateError  # noqa: PLC0415
    from lockgate.gateways.local_admin_token import (  # noqa: PLC0415
        ensure_local_admin_token,
        forget_local_gateway,
        note_local_gateway,
    )
    from lockgate.settings import load_settings  # noqa: PLC0415

    try:
        settings, gateway_config = load_settings(
            config, host=host, port=port, log_format=log_format, log_level=log_level
        )
        configure_logging(settings.log_format, settings.log_level)
        limits = _listener_limits(settings)
        token_file = local_admin_token_path(settings)
        application = build(
            settings, gateway_config, local_admin_token=ensure_local_admin_token(token_file)
        )
        asyncio.run(check_run_store(settings))
        asyncio.run(check_secrets(settings, gateway_config))
        asyncio.run(check_access(settings, gateway_config))
    except LockgateError as exc:  # a bad config, a store that cannot be opened, no key
        typer.echo(f"lockgate: {exc.message}", err=True)
        raise typer.Exit(2) from None
    logger.info(
        "serving %d functions, %d routes and %d workflows on http://%s:%d (local admin token "
        "in %s)",
        len(gateway_config.functions),
        len(gateway_config.routes),
        len(gateway_config.workflows),
        settings.host,
        settings.port,
        token_file,
    )
    server = uvicorn.Server(
        server_config(
            create_app(application),
            limits=limits,
            host=settings.host,
            port=settings.port,
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_grace) or None,
        )
    )
    note_local_gateway(settings.port, token_file)
    try:
        server.run()
    finally:
        forget_local_gateway(settings.port, token_file)


def _listener_limits(settings: Settings) -> ListenerLimits:
    """The listener's limits from ``settings``, after raising the open-file limit: the
    connection cap is lowered, if need be, to what that limit leaves room for."""
    files = raise_open_file_limit()
    if files.error is not None:
        logger.warning(
            "could not raise the open-file limit from %d to %d (%s)",
            files.soft,
            files.hard,
            files.error,
        )
    elif files.soft != files.before:
        logger.info("raised the open-file limit from %d to %d", files.before, files.soft)
    connections = connection_budget(settings.max_connections, files.soft)
    if connections < settings.max_connections:
        logger.warning(
            "max_connections lowered from %d to %d: the open-file limit is %d (hard limit "
            "%d) and the gateway keeps the rest for its workers and stores",
            settings.max_connections,
            connections,
            files.soft,
            files.hard,
        )
    return ListenerLimits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        max_connections=connections,
        max_connections_per_client=min(settings.max_connections_per_client, connections),
    )


app.command("run")(run)
app.command("check")(check)
app.add_typer(runs_app, name="runs")
app.add_typer(secrets_app, name="secrets")
app.add_typer(jobs_app, name="jobs")
app.add_typer(invocations_app, name="invocations")
app.add_typer(tokens_app, name="tokens")
app.add_typer(api_keys_app, name="api-keys")


def main() -> None:
    app()
