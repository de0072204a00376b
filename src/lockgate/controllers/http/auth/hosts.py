"""``allowed_hosts``: the ``Host`` names the gateway answers to; any other is a 400.

A web page whose DNS name is made to resolve to the gateway's address (DNS rebinding) still
sends its own name as ``Host``: refusing names the gateway does not go by ends the attack
(and a page's cross-origin requests are refused by CORS besides).

By default a loopback listener answers to loopback names only (``localhost``, ``127.x.y.z``,
``::1``); a wildcard listener (``0.0.0.0``, ``::``) to those, the machine's host names and
any address of its own; any other listener to its own address, the machine's names and the
loopback names. Behind a load balancer or a DNS name, list the names
(``allowed_hosts = ["api.example.com", "*.internal.example"]``; ``["*"]`` answers any).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

__all__ = ["AllowedHosts", "host_name"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - listen addresses, compared
_CACHE_SIZE = 256


def host_name(host: str) -> str:
    """A ``Host`` header's name: no port, no brackets, lower case, no final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def _is_local_address(name: str) -> bool:
    """Whether ``name`` is an IP address of this machine: binding to it succeeds only then."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    if address.is_unspecified or address.is_multicast:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((name, 0))
    except OSError:
        return False
    return True


class AllowedHosts:
    """Decides whether a ``Host`` may be served.

    Args:
        patterns: ``allowed_hosts``: names, ``*.domain`` wildcards, IP addresses, ``*``;
            None chooses by ``listen_host`` (see the module docstring).
        listen_host: The address the listener is bound to.
    """

    def __init__(self, patterns: Iterable[str] | None, listen_host: str) -> None:
        self._any = False
        self._own_addresses = False
        self._exact: set[str] = set()
        self._suffixes: list[str] = []
        self._checked: dict[str, bool] = {}
        if patterns is not None:
            for pattern in patterns:
                self._add(host_name(pattern) if pattern != "*" else "*")
            return
        listener = host_name(listen_host)
        self._exact |= _LOOPBACK_NAMES | {"127.0.0.1", "::1"}
        self._suffixes.append(".localhost")
        if _loopback(listener):
            return
        self._exact |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        if listener in _WILDCARDS:
            self._own_addresses = True
        else:
            self._exact.add(listener)

    def _add(self, pattern: str) -> None:
        if pattern == "*":
            self._any = True
        elif pattern.startswith("*."):
            self._suffixes.append(pattern[1:])
        else:
            self._exact.add(pattern)

    def allows(self, host: str) -> bool:
        """Whether a request whose ``Host`` header is ``host`` may be served."""
        if self._any:
            return True
        name = host_name(host)
        if name in self._exact or any(name.endswith(s) for s in self._suffixes):
            return True
        if _loopback(name):
            return "127.0.0.1" in self._exact
        if not self._own_addresses:
            return False
        known = self._checked.get(name)
        if known is None:
            if len(self._checked) >= _CACHE_SIZE:
                self._checked.clear()
            known = self._checked[name] = _is_local_address(name)
        return known


def _loopback(name: str) -> bool:
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
