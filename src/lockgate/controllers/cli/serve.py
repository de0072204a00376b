"""``lockgate serve``: check everything a gateway needs, then serve it on its listeners.

Before it listens it checks the config (every problem at once, the handlers loaded in
throwaway workers), the run store, the secrets and that no surface is open to other machines
without a credential; any problem means exit code 2. It
serves on one uvicorn server and event loop, on the main address and, with
``admin_listen``, a second one for the operations endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lockgate.controllers.heap import settle_heap
from lockgate.controllers.http.listener.limits import (
    ListenerLimits,
    connection_budget,
    raise_open_file_limit,
)

if TYPE_CHECKING:
    from lockgate.config.settings import Settings

__all__ = ["serve"]

logger = logging.getLogger("lockgate")


def serve(
    *,
    config: Annotated[
        Path | None,
        typer.Option(
            help="The lockgate.toml to serve (or LOCKGATE_CONFIG); ./lockgate.toml by default."
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING ...")] = None,
    reload: Annotated[
        bool | None,
        typer.Option(
            "--reload",
            help="Development: replace changed handlers, workflows and lockgate.toml as "
            "they are saved.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the functions, routes and workflows declared in a lockgate.toml.

    The config is --config, else LOCKGATE_CONFIG, else ./lockgate.toml when there is one.
    Every problem with it (and, unless check_handlers is off, each function whose handler
    does not load) is listed before anything starts; then the exit code is 2.
    """
    # Imported here: the client commands (run, runs) should not pay ~2 s for the server.
    from lockgate.bootstrap import (  # noqa: PLC0415
        build,
        check_access,
        check_run_store,
        check_secrets,
        local_admin_token_path,
    )
    from lockgate.controllers.cli.config_problems import find_problems  # noqa: PLC0415
    from lockgate.controllers.cli.local_admin_token import (  # noqa: PLC0415
        ensure_local_admin_token,
        forget_local_gateway,
        note_local_gateway,
    )
    from lockgate.controllers.draining import DrainingServer  # noqa: PLC0415
    from lockgate.controllers.http.app import create_app  # noqa: PLC0415
    from lockgate.controllers.log_setup import configure_logging  # noqa: PLC0415
    from lockgate.controllers.server_options import server_config  # noqa: PLC0415
    from lockgate.errors import LockgateError  # noqa: PLC0415

    config = config or _default_config()
    try:
        inspection, error = find_problems(
            config,
            host=host,
            port=port,
            log_format=log_format,
            log_level=log_level,
            reload=reload or None,  # without --reload, the environment and file decide
        )
        if error is not None or inspection.settings is None:
            raise error or inspection.error()
        settings, gateway_config = inspection.settings, inspection.config
        configure_logging(settings.log_format, settings.log_level)
        addresses = _addresses(settings)
        limits = _listener_limits(settings)
        token_file = local_admin_token_path(settings)
        application = build(
            settings, gateway_config, local_admin_token=ensure_local_admin_token(token_file)
        )
        asyncio.run(check_run_store(settings))
        asyncio.run(check_secrets(settings, gateway_config))
        asyncio.run(check_access(settings, gateway_config))
        sockets = [_bind(*address) for address in addresses]
    except LockgateError as exc:  # a bad config, a store that cannot be opened, no key
        typer.echo(f"lockgate: {exc.message}", err=True)
        raise typer.Exit(2) from None
    logger.info(
        "serving %d functions, %d routes and %d workflows on http://%s:%d%s (local admin "
        "token in %s)",
        len(gateway_config.functions),
        len(gateway_config.routes),
        len(gateway_config.workflows),
        settings.host,
        settings.port,
        f", operations on http://{settings.admin_listen}" if settings.admin_listen else "",
        token_file,
    )
    server = DrainingServer(
        server_config(
            create_app(application),
            limits=limits,
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_grace) or None,
        ),
        on_drain=application.begin_draining,
        drain_seconds=settings.drain_seconds,
        on_started=settle_heap,
    )
    for _, listen_port in addresses:
        note_local_gateway(listen_port, token_file)
    try:
        server.run(sockets=sockets)
    finally:
        for _, listen_port in addresses:
            forget_local_gateway(listen_port, token_file)


def _default_config() -> Path | None:
    """``LOCKGATE_CONFIG`` (None: ``load_settings`` reads it) or ./lockgate.toml; with
    neither, the command stops: an empty gateway is never what someone meant to serve."""
    if os.environ.get("LOCKGATE_CONFIG"):
        return None
    here = Path("lockgate.toml")
    if here.is_file():
        return here
    typer.secho(
        f"lockgate: nothing to serve: no lockgate.toml in {Path.cwd()}, no --config and no "
        "LOCKGATE_CONFIG. Make a project with `lockgate init DIR`, then serve it from DIR, "
        "or pass --config PATH/lockgate.toml",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(2)


def _addresses(settings: Settings) -> list[tuple[str, int]]:
    """Where to listen: the main address, and ``admin_listen`` when set.

    Raises:
        ConfigError: ``admin_listen`` is the main listener's port (the listener a request
            came in on is told by its port).
    """
    from lockgate.config.settings import listen_address  # noqa: PLC0415
    from lockgate.errors import ConfigError  # noqa: PLC0415

    addresses = [(settings.host, settings.port)]
    if settings.admin_listen is not None:
        admin = listen_address(settings.admin_listen)
        if admin[1] == settings.port:
            raise ConfigError(
                f"admin_listen ({settings.admin_listen}) must use another port than the "
                f"main listener ({settings.port})",
                key="admin_listen",
            )
        addresses.append(admin)
    return addresses


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, for the server to listen on.

    Raises:
        ConfigError: The address cannot be bound (in use, not this machine's, refused).
    """
    from lockgate.errors import ConfigError  # noqa: PLC0415

    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, protocol)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}", key="host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", key="host"
        ) from None
    sock.set_inheritable(True)
    return sock


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
