"""``NatsQueueResolver``: the ``message_queue`` resource type, a NATS connection.

nats-py retries a failing first connect for as long as it would retry a dropped one
(``max_reconnect_attempts`` x ``reconnect_time_wait``, half a minute by default), so
``create`` bounds that first connect by ``connect_timeout`` itself and gives up at once on
an answer that will not change (credentials rejected, every server refusing). Once
connected, the client's own reconnects are how a server restart is survived.

An inline reference (``create_inline``) connects through the egress guard (see
``egress.nats``): checked addresses only, TLS verifying the host name, no servers taken from
the server's own announcements; any failure to reach it is the one ``UNREACHABLE`` error,
after ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nats.aio.client import Client
from nats.errors import AuthorizationError
from nats.errors import Error as NatsError

from lockgate.errors import ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.config import ConfigReader, credential_fields
from lockgate.gateways.resources.egress.nats import (
    NoDiscoveryClient,
    check_inline_servers,
    checked_servers,
)
from lockgate.gateways.resources.ports import IEgressGuard
from lockgate.gateways.resources.queue.nats import NatsMessageQueue
from lockgate.models.security.egress import UNREACHABLE

__all__ = ["NatsQueueResolver"]

logger = logging.getLogger(__name__)

_SCHEMES = ("nats", "tls", "ws", "wss")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_CREDENTIAL_KEYS = frozenset({"user", "password", "token"})


@dataclass(frozen=True, slots=True)
class _Settings:
    servers: tuple[str, ...]
    name: str | None
    connect_timeout: float
    max_reconnect_attempts: int
    reconnect_time_wait: float
    jetstream: bool
    stream: str | None
    subjects: tuple[str, ...]

    @property
    def target(self) -> str:
        return f"NATS at {', '.join(self.servers)}"


def _bad(key: str, problem: str) -> ResourceConfigError:
    return ResourceConfigError(f"message_queue config {problem}", key=key)


def _check_server(index: int, server: str) -> None:
    where = f"'servers'[{index}]"  # the URL itself is never echoed: it may hold a password
    try:
        parts = urlsplit(server)
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        raise _bad("servers", f"{where} is not a valid URL") from None
    if "@" in parts.netloc:
        raise _bad(
            "servers",
            f"{where} must not hold credentials ('user:pass@'): store them as a secret "
            '({"user", "password"} or {"token"}) named by the credentials_ref',
        )
    if parts.scheme not in _SCHEMES or not parts.hostname:
        schemes = ", ".join(_SCHEMES)
        raise _bad("servers", f"{where} must be a URL like nats://host:4222 ({schemes})")


def _read(config: Mapping[str, Any]) -> _Settings:
    reader = ConfigReader(NatsQueueResolver.type_name, config)
    servers = reader.string_list("servers")
    if reader.has("servers") and not servers:
        raise _bad("servers", "'servers' is empty")
    for index, server in enumerate(servers):
        _check_server(index, server)
    settings = _Settings(
        servers=tuple(servers or ["nats://127.0.0.1:4222"]),
        name=reader.text("name"),
        connect_timeout=reader.number("connect_timeout", 5.0, minimum=0.001) or 5.0,
        max_reconnect_attempts=reader.integer("max_reconnect_attempts", 60, minimum=-1) or 0,
        reconnect_time_wait=reader.number("reconnect_time_wait", 0.5) or 0.0,
        jetstream=reader.boolean("jetstream"),
        stream=reader.text("stream"),
        subjects=tuple(reader.string_list("subjects")),
    )
    reader.done()
    if settings.max_reconnect_attempts == 0:  # nats-py would read 0 as "forever"
        raise _bad("max_reconnect_attempts", "'max_reconnect_attempts' must be -1 or above 0")
    if settings.stream is None:
        if settings.subjects:
            raise _bad("subjects", "'subjects' is only used with 'stream'")
    elif not _STREAM_NAME.fullmatch(settings.stream):
        raise _bad("stream", "'stream' must be letters, digits, _ or - only")
    elif not settings.jetstream:
        raise _bad("stream", "'stream' needs 'jetstream': true")
    elif not settings.subjects:
        raise _bad("subjects", "'stream' needs 'subjects' (a list of subjects)")
    return settings


def _auth(credentials: Any) -> dict[str, str]:
    fields = credential_fields(NatsQueueResolver.type_name, credentials, _CREDENTIAL_KEYS)
    if fields and set(fields) not in ({"user", "password"}, {"token"}):
        raise ResourceConfigError(
            'message_queue credentials must be {"user", "password"} or {"token"}, '
            f"got keys {', '.join(sorted(fields))}",
            key="credentials_ref",
        )
    return fields


class NatsQueueResolver:
    """Creates ``NatsMessageQueue``s: one NATS connection each, reconnecting on its own.

    Config keys:
        servers (list of str, ["nats://127.0.0.1:4222"]): Server URLs (``nats://``,
            ``tls://``, ``ws://``, ``wss://``); credentials in them (``user:pass@``) are
            refused: they go in the credentials secret.
        name (str, none): The client name the server shows in its connection list.
        connect_timeout (number, 5.0): Seconds the first connect may take, all servers
            and attempts included; also the bound on a health check's round trip.
        max_reconnect_attempts (int, 60): Attempts per server to reconnect after the
            connection drops (a server restart); -1 retries forever (0 is refused).
        reconnect_time_wait (number, 0.5): Seconds between attempts on one server.
        jetstream (bool, false): Publish through JetStream (waiting for the stream's ack)
            and allow durable subscriptions.
        stream (str, none): A JetStream stream to create (or extend with ``subjects``)
            when the resource is created; needs ``jetstream``.
        subjects (list of str, none): The stream's subjects; needed with ``stream``.

    Credentials (``credentials_ref``): ``{"user": ..., "password": ...}`` or
    ``{"token": ...}``.

    The resource is a ``NatsMessageQueue`` (``queue.nats``: ``publish``,
    ``subscribe``, ``request``, ``ensure_stream``; ``.client`` and ``.jetstream`` for the
    rest of nats-py).
    """

    type_name: str = "message_queue"

    def validate(self, config: Mapping[str, Any]) -> None:
        _read(config)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> NatsMessageQueue:
        """Connect, and with ``jetstream`` check it is enabled and ensure ``stream``.

        Raises:
            ResourceConfigError: ``credentials`` has the wrong shape.
            ResourceTimeoutError: No server answered within ``connect_timeout``.
            ResourceUnavailableError: Every server refused, the credentials were rejected,
                JetStream is off on the server, or ``stream`` could not be created.

        Side Effects:
            Opens a connection (and its reader, flusher and pinger tasks).
        """
        return await self._create(_read(config), credentials, None)

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, and servers an inline connection can check: ``nats://`` or
        ``tls://`` on one host name.

        Raises:
            ResourceConfigError: As ``validate``, or a server the guard cannot check.
        """
        check_inline_servers(_read(config).servers)

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> NatsMessageQueue:
        """``create`` for a caller's reference, connecting only where ``egress`` allows.

        Raises:
            ResourceConfigError: As ``validate_inline``, or malformed credentials.
            ResourceUnavailableError: ``UNREACHABLE`` for any failure to reach a server;
                otherwise as ``create``.
        """
        settings = _read(config)
        check_inline_servers(settings.servers)
        return await self._create(settings, credentials, egress)

    async def _create(
        self, settings: _Settings, credentials: Any, egress: IEgressGuard | None
    ) -> NatsMessageQueue:
        client = await _connect(settings, _auth(credentials), egress)
        queue = NatsMessageQueue(
            client,
            client.jetstream() if settings.jetstream else None,
            target=settings.target,
            timeout=settings.connect_timeout,
        )
        try:
            await _prepare_jetstream(queue, settings)
        except BaseException:
            await self.close(queue)
            raise
        return queue

    async def health_check(self, resource: Any) -> None:
        """Connected, and a PING answered within ``connect_timeout``.

        Raises:
            ResourceUnavailableError: Disconnected (reconnecting) or no PONG in time.
        """
        client: Client = resource.client
        if not client.is_connected:
            state = "reconnecting" if client.is_reconnecting else "not connected"
            raise ResourceUnavailableError(f"{resource.target} is {state}")
        try:
            await client.flush(timeout=resource.flush_timeout)
        except (NatsError, OSError, TimeoutError) as exc:
            raise ResourceUnavailableError(
                f"{resource.target} did not answer a PING: {type(exc).__name__}"
            ) from None

    async def close(self, resource: Any) -> None:
        """Drain subscriptions and pending publishes, then close. Idempotent."""
        client: Client = resource.client
        if client.is_closed:
            return
        if client.is_connected:
            try:
                await client.drain()
            except (NatsError, OSError, TimeoutError) as exc:
                logger.warning("draining %s failed: %s", resource.target, type(exc).__name__)
            else:
                return
        await client.close()


async def _prepare_jetstream(queue: NatsMessageQueue, settings: _Settings) -> None:
    if queue.jetstream is None:
        return
    try:
        async with asyncio.timeout(settings.connect_timeout):
            await queue.jetstream.account_info()
    except (NatsError, TimeoutError) as exc:
        raise ResourceUnavailableError(
            f"{settings.target} does not offer JetStream ({type(exc).__name__}: {exc})"
        ) from None
    if settings.stream is None:
        return
    try:
        await queue.ensure_stream(settings.stream, list(settings.subjects))
    except NatsError as exc:
        raise ResourceUnavailableError(
            f"{settings.target} could not create stream {settings.stream!r}: {exc}",
        ) from None


async def _connect(
    settings: _Settings, auth: dict[str, str], egress: IEgressGuard | None
) -> Client:
    """Connect within ``connect_timeout`` (through ``egress`` when given)."""
    if egress is None:
        return await _connect_to(settings, auth, Client(), list(settings.servers), {})
    started = egress.now()
    try:
        # One deadline for the lookup and the connect: a slow name must not stretch a
        # silent port past connect_timeout, or it would read differently from a refusal.
        async with asyncio.timeout(settings.connect_timeout):
            servers, host = await checked_servers(settings.servers, egress)
            return await _connect_to(
                settings, auth, NoDiscoveryClient(), servers, {"tls_hostname": host}
            )
    except ResourceUnavailableError as exc:
        if isinstance(exc, _CredentialsRejectedError):  # a server was reached, and answered
            raise ResourceUnavailableError(exc.message) from None
        reason: BaseException = exc
    except Exception as exc:  # refused by the guard, or the name does not resolve
        reason = exc
    where = ", ".join(settings.servers)
    await egress.failed(started, settings.connect_timeout, where, reason)
    raise ResourceUnavailableError(UNREACHABLE)


async def _connect_to(
    settings: _Settings,
    auth: dict[str, str],
    client: Client,
    servers: list[str],
    extra: dict[str, Any],
) -> Client:
    """Connect ``client`` to ``servers``; stop early on answers that will not change."""
    failures: list[BaseException] = []
    give_up = asyncio.Event()
    connected = False

    async def on_error(exc: Exception) -> None:
        if connected:
            logger.warning("%s: %s", settings.target, _describe(exc))
            return
        failures.append(exc)
        refusals = sum(isinstance(e, ConnectionRefusedError) for e in failures)
        if _is_auth_failure(exc) or refusals >= len(servers):
            give_up.set()

    async def on_disconnected() -> None:
        if connected and not client.is_closed:
            logger.warning("%s: disconnected, reconnecting", settings.target)

    async def on_reconnected() -> None:
        logger.info("%s: reconnected", settings.target)

    # A dict, because nats-py annotates its timeouts as int though it takes floats.
    options: dict[str, Any] = {
        "servers": servers,
        "name": settings.name,
        "allow_reconnect": True,
        "connect_timeout": settings.connect_timeout,
        "max_reconnect_attempts": settings.max_reconnect_attempts,
        "reconnect_time_wait": settings.reconnect_time_wait,
        "drain_timeout": settings.connect_timeout,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        **extra,
        **auth,
    }
    connecting = asyncio.create_task(client.connect(**options))
    waiting = asyncio.create_task(give_up.wait())
    try:
        await asyncio.wait(
            {connecting, waiting},
            timeout=settings.connect_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
    except BaseException:  # cancelled: leave nothing running behind
        await _settle(connecting, waiting)
        await client.close()
        raise
    outcome = await _settle(connecting, waiting)
    if outcome is None and client.is_connected:
        connected = True
        return client
    await client.close()
    if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
        failures.append(outcome)
    raise _failure(settings, failures) from None


async def _settle(connecting: asyncio.Task[None], waiting: asyncio.Task[Any]) -> Any:
    """Stop both tasks and return the connect's outcome: None or its exception."""
    waiting.cancel()
    connecting.cancel()  # a no-op once it has finished
    return (await asyncio.gather(connecting, waiting, return_exceptions=True))[0]


class _CredentialsRejectedError(ResourceUnavailableError):
    """A server answered that the credentials are wrong: it was reached."""


def _failure(settings: _Settings, failures: list[BaseException]) -> ResourceUnavailableError:
    if any(_is_auth_failure(exc) for exc in failures):
        return _CredentialsRejectedError(f"{settings.target} rejected the credentials")
    if any(isinstance(exc, ConnectionRefusedError) for exc in failures):
        return ResourceUnavailableError(f"{settings.target} refused the connection")
    others = [exc for exc in failures if not isinstance(exc, TimeoutError)]
    if others:
        return ResourceUnavailableError(
            f"{settings.target} is unreachable: {_describe(others[-1])}"
        )
    return ResourceTimeoutError(
        f"{settings.target} did not answer within connect_timeout ({settings.connect_timeout:g} s)",
        timeout=settings.connect_timeout,
    )


def _is_auth_failure(exc: BaseException) -> bool:
    # nats-py reports the server's "-ERR 'Authorization Violation'" as a plain Error.
    text = str(exc).lower()
    return isinstance(exc, AuthorizationError) or (
        isinstance(exc, NatsError)
        and ("authorization violation" in text or "authentication" in text)
    )


def _describe(exc: BaseException) -> str:
    # nats-py's messages name the protocol error, never the credentials sent.
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
