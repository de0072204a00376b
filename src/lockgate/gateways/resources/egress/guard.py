"""``DnsEgressGuard``: the egress policy applied at the moment an inline resource connects.

A check on a host *name* followed by a driver's own DNS lookup leaves a window: the name can
resolve to a public address for the check and to 127.0.0.1 for the connection (DNS
rebinding). So the guard resolves the name itself, when the connection is about to be made,
keeps the addresses the policy allows, and the resolvers hand those *addresses* to their
drivers, which connect without a lookup of their own: what was checked is what is
connected to. TLS still verifies the name the reference gave (each resolver passes it as
the server name).

Whether an address is the gateway's own is found by binding a socket to it: the kernel
allows that only for an address of a local interface (or a local route), however many
interfaces there are and whatever they are called, and a listener on 0.0.0.0 answers on
every one of them.

Every failure to reach an inline host is padded to the connect timeout (``failed``), so a
refusal by the policy, a refused port and a silent one all take as long and read the same.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv6Address

from lockgate.models.security.egress import (
    EgressPolicy,
    EgressRefusedError,
    IPAddress,
    normalized_name,
    parse_address,
)

__all__ = ["DnsEgressGuard", "EgressGuard", "Resolve", "is_own_address", "system_resolve"]

logger = logging.getLogger(__name__)

Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
"""``async (host, port) -> addresses``: DNS, or a test's stand-in for it."""

# Documentation addresses a host is unlikely to own (some sandboxes do number their
# interfaces from these blocks, hence two of each): if all of a family bind, this host binds
# any address (net.ipv4.ip_nonlocal_bind) and every address will look like the gateway's own.
_NOBODYS = (
    (IPv4Address("198.51.100.254"), IPv4Address("203.0.113.254")),
    (IPv6Address("2001:db8:ffff::fe"), IPv6Address("3fff:ffff::fe")),
)


async def system_resolve(host: str, port: int) -> list[str]:
    """``host``'s addresses from the system resolver, in its order, without duplicates.

    Raises:
        OSError: ``socket.gaierror`` when the name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_own_address(address: IPAddress) -> bool:
    """Whether ``address`` belongs to this host (a local interface's, or a local route's).

    Errors other than "address not available" count as own: when in doubt, refuse.
    """
    family = socket.AF_INET6 if isinstance(address, IPv6Address) else socket.AF_INET
    try:
        probe = socket.socket(family, socket.SOCK_DGRAM)
    except OSError:  # the family is off on this host: none of its addresses are ours
        return False
    with probe:
        try:
            probe.bind((str(address), 0))
        except OSError as exc:
            return exc.errno != errno.EADDRNOTAVAIL
    return True


class DnsEgressGuard:
    """Resolves and checks inline resources' hosts; an ``IEgressGuard``.

    Args:
        policy: What may be connected to.
        resolve: Host name to addresses (the system resolver by default).
        is_own: Whether an address is this host's (``is_own_address`` by default).
        clock: Monotonic seconds, for ``failed``'s padding.
        sleep: How ``failed`` waits (tests pass a recorder instead of waiting).
    """

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolve: Resolve = system_resolve,
        is_own: Callable[[IPAddress], bool] = is_own_address,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.policy = policy
        self._resolve = resolve
        self._is_own = is_own
        self._clock = clock
        self._sleep = sleep
        self._probed = False

    def now(self) -> float:
        """The guard's clock: pass it to ``failed`` as ``started``."""
        return self._clock()

    async def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` now and return the addresses the policy allows, in the
        resolver's order. Connect to these, never to ``host`` again.

        Raises:
            EgressRefusedError: The policy allows none of them, or ``host`` is not a valid
                name; the message, for the log, says why for each address.
            OSError: ``host`` does not resolve.
        """
        self._probe_once()
        literal = parse_address(host)
        if literal is not None:
            name, found = None, [literal]
        else:
            try:
                normalized_name(host)
            except ValueError:
                raise EgressRefusedError(f"{host!r} is not a valid host name") from None
            name = host
            resolved = [parse_address(text) for text in await self._resolve(host, port)]
            found = [address for address in resolved if address is not None]
        allowed: list[str] = []
        refused: list[str] = []
        for address in found:
            decision = self.policy.decide(name, address, own=self._is_own(address))
            if decision.allowed:
                allowed.append(str(address))
            else:
                refused.append(f"{address} ({decision.reason})")
        if not allowed:
            raise EgressRefusedError(
                f"{host}:{port} is refused by the egress policy: "
                + ("; ".join(refused) or "it resolved to no address")
            )
        if refused:
            logger.debug("inline resource %s:%s: skipped %s", host, port, "; ".join(refused))
        return allowed

    async def failed(
        self, started: float, connect_timeout: float, target: str, reason: BaseException
    ) -> None:
        """Log why ``target`` could not be reached; wait until ``started + connect_timeout``.

        Args:
            started: ``now()`` when the attempt began.
            connect_timeout: The attempt's connect timeout: every failure ends when it would.
            target: ``host:port`` as the reference named it.
            reason: What went wrong: a connect error, never one holding credentials.
        """
        # Policy refusals at INFO (an operator wants to see them); network failures, which
        # a caller can produce at will, at DEBUG.
        level = logging.INFO if isinstance(reason, EgressRefusedError) else logging.DEBUG
        detail = str(reason) or "no detail"
        logger.log(
            level,
            "inline resource: cannot connect to %s: %s: %s",
            target,
            type(reason).__name__,
            detail,
        )
        remaining = started + connect_timeout - self._clock()
        if remaining > 0:
            await self._sleep(remaining)

    def _probe_once(self) -> None:
        if self._probed:
            return
        self._probed = True
        if any(all(self._is_own(address) for address in family) for family in _NOBODYS):
            logger.warning(
                "this host lets processes bind addresses it does not own "
                "(ip_nonlocal_bind), so every address looks like the gateway's own: inline "
                "resources reach only the addresses inline_allowed_hosts lists"
            )

    def __repr__(self) -> str:
        return f"EgressGuard({self.policy!r})"


# The name before implementations were named by technology (seed 000):
# it resolves names itself and pins the addresses.
EgressGuard = DnsEgressGuard
