"""nats-py connections of inline ``message_queue`` resources, made through the egress guard.

nats-py connects to each server URL with ``asyncio.open_connection(host, port)`` and starts
TLS with the ``tls_hostname`` option as the server name. So an inline reference's servers
are resolved and checked once, and nats-py is given URLs of the checked *addresses* (which
it reconnects to as they are, without a lookup) with the reference's host name as
``tls_hostname``: SNI and certificate verification use the name. That is why an inline
reference names one host (it may resolve to several addresses): nats-py takes one TLS name
per client.

A NATS server also advertises other servers of its cluster (``connect_urls`` in INFO),
which nats-py adds to its pool and reconnects to: a caller's own server could advertise
127.0.0.1. ``NoDiscoveryClient`` ignores them: an inline connection reconnects only to
the addresses that were checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from nats.aio.client import Client

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.ports import IEgressGuard

__all__ = ["INLINE_SCHEMES", "NoDiscoveryClient", "check_inline_servers", "checked_servers"]

INLINE_SCHEMES = ("nats", "tls")
_DEFAULT_PORT = 4222


class NoDiscoveryClient(Client):
    """A nats-py client that never adds the servers a server advertises to its pool."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        advertised = {key: value for key, value in info.items() if key != "connect_urls"}
        await super()._process_info(advertised, initial_connection)


def check_inline_servers(servers: Sequence[str]) -> None:
    """Refuse server lists an inline reference may not use (already checked as URLs).

    Raises:
        ResourceConfigError: A ``ws://``/``wss://`` server (nats-py's WebSocket transport
            resolves names itself, past the guard), or servers on more than one host.
    """
    parts = [urlsplit(server) for server in servers]
    if any(part.scheme not in INLINE_SCHEMES for part in parts):
        raise ResourceConfigError(
            "message_queue config 'servers' must be nats:// or tls:// URLs in an inline "
            "reference: the WebSocket transport looks host names up itself, past the egress "
            "policy. Register a shared resource for ws:// or wss://",
            key="servers",
        )
    if len({part.hostname for part in parts}) > 1:
        raise ResourceConfigError(
            "message_queue config 'servers' must all name one host in an inline reference "
            "(it may resolve to several addresses): its connection verifies TLS against one "
            "name. Register a shared resource for a cluster of several host names",
            key="servers",
        )


async def checked_servers(servers: Sequence[str], egress: IEgressGuard) -> tuple[list[str], str]:
    """The server URLs with each host replaced by the addresses ``egress`` allows.

    Returns:
        The URLs to give nats-py, and the host name for its ``tls_hostname``.

    Raises:
        EgressRefusedError, OSError: As ``egress.addresses``.
    """
    urls: list[str] = []
    host = ""
    for server in servers:
        part = urlsplit(server)
        host, port = part.hostname or "", part.port or _DEFAULT_PORT
        for address in await egress.addresses(host, port):
            shown = f"[{address}]" if ":" in address else address
            urls.append(f"{part.scheme}://{shown}:{port}")
    return list(dict.fromkeys(urls)), host
