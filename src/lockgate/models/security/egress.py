"""The egress policy of inline resources: where a caller's reference may make the gateway
connect.

Whoever starts a run chooses an inline reference's host, so without a policy a caller could
read the gateway's own loopback admin API, a cloud metadata service (169.254.169.254) or a
database on the private network through it. The policy decides on the *address* a host name
resolved to when the connection is made (so a name pointing at 127.0.0.1 is caught, whatever
it is called), and on the name for the public addresses the operator picked by name.

``inline_allowed_hosts`` entries:

- ``"public"``: any address outside the refused ranges below (the default, alone);
- ``"api.example.com"``: that host name, at its public addresses;
- ``"*.example.com"``: any name below ``example.com`` (not ``example.com`` itself), at its
  public addresses;
- ``"10.1.2.3"``, ``"10.0.0.0/8"``, ``"::1"``, ``"fd00::/8"``: those addresses, *even in a
  refused range*. Only an address entry lets a refused address through: names never do,
  since whoever controls a name's DNS (a partner, anyone who can add a record under a
  wildcard) could point it at 127.0.0.1 or the metadata service.

Refused unless listed by address: loopback, unspecified, RFC 1918 private, CGNAT
100.64.0.0/10, link-local (169.254.0.0/16 with the metadata services, fe80::/10),
unique-local fc00::/7 (with AWS's fd00:ec2::254), multicast, documentation, benchmarking and
reserved blocks, IPv6 outside global unicast 2000::/3, the IPv4-mapped, NAT64 and 6to4
forms of all of these, and the gateway's own addresses (which the caller of ``decide``
finds out: it takes I/O).

Pure: no DNS, no sockets. ``lockgate.gateways.resources.egress.guard`` resolves and asks ``decide``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Literal

__all__ = [
    "PUBLIC",
    "UNREACHABLE",
    "EgressDecision",
    "EgressPolicy",
    "EgressRefusedError",
    "HostPattern",
    "IPAddress",
    "normalized_name",
    "parse_address",
    "parse_host_pattern",
    "refused_range",
    "unreachable",
]

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

PUBLIC = "public"
"""The entry that allows every address outside the refused ranges."""

UNREACHABLE = "cannot connect to its host"
"""What a caller learns of *any* failure to reach an inline resource's host: refused by the
policy, unresolvable, refused, silent, TLS failed. One text (and one duration, see
``IEgressGuard.failed``), so a caller cannot map ports or the policy by comparing errors."""


def unreachable(target: str) -> str:
    """``UNREACHABLE`` naming ``target`` (``host:port`` as the caller gave it), for errors
    raised inside a step, where no resource name prefixes the message."""
    return f"{UNREACHABLE} ({target})"


class EgressRefusedError(OSError):
    """The policy allows none of a host's addresses (or the name is malformed).

    An ``OSError``, as a refused connection is, so drivers and their callers treat it as
    one. Its message is the detailed reason, for the gateway's log only: callers are told
    ``UNREACHABLE``.
    """


_V4_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata services live here)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved (and broadcast)"),
)
# Global unicast (2000::/3) is the only IPv6 space in use on the internet; everything
# outside it is refused (labelled where a label helps the log), and so are these inside it.
_V6_REFUSED_INSIDE: tuple[tuple[str, str], ...] = (
    ("2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4 (deprecated; embeds any IPv4 address)"),
    ("3fff::/20", "documentation"),
)
_V6_LABELS: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("fc00::/7", "unique-local (AWS's metadata service fd00:ec2::254 lives here)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_GLOBAL_V6 = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")


def _networks(table: Iterable[tuple[str, str]]) -> tuple[tuple[Network, str], ...]:
    return tuple((ip_network(cidr), label) for cidr, label in table)


_V4 = _networks(_V4_REFUSED)
_V6_INSIDE = _networks(_V6_REFUSED_INSIDE)
_V6_OUTSIDE = _networks(_V6_LABELS)


def _embedded_v4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped (``::ffff:a.b.c.d``) or NAT64 (``64:ff9b::/96``)
    IPv6 address reaches: the address it must be judged as."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refused_range(address: IPAddress) -> str | None:
    """The refused range ``address`` is in, in words, or None for a public address."""
    embedded = _embedded_v4(address)
    if embedded is not None:
        label = refused_range(embedded)
        return None if label is None else f"{label}, as IPv4 inside IPv6"
    if isinstance(address, IPv4Address):
        return next((label for net, label in _V4 if address in net), None)
    if address in _GLOBAL_V6:
        return next((label for net, label in _V6_INSIDE if address in net), None)
    label = next((label for net, label in _V6_OUTSIDE if address in net), None)
    return label or "not global unicast (outside 2000::/3)"


_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def normalized_name(name: str) -> str:
    """``name`` as names are compared: lower case, IDNA (punycode), no trailing dot.

    Raises:
        ValueError: It is not a valid host name.
    """
    text = name.strip().rstrip(".").lower()
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("is not a valid host name") from None
    if len(text) > 253 or not all(_LABEL.fullmatch(label) for label in text.split(".")):
        raise ValueError("is not a valid host name")
    return text


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an IP address (``[::1]`` brackets allowed), or None if it is not one."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One ``inline_allowed_hosts`` entry, parsed.

    Attributes:
        text: The entry as written, for messages.
        kind: ``public``, ``name`` (exact), ``wildcard`` (``*.suffix``) or ``network``.
        name: The normalised name (``name``), or the suffix with its dot (``wildcard``).
        network: The addresses (``network``); a single address is a /32 or /128.
    """

    text: str
    kind: Literal["public", "name", "wildcard", "network"]
    name: str = ""
    network: Network | None = None


def parse_host_pattern(entry: str) -> HostPattern:
    """Parse one ``inline_allowed_hosts`` entry.

    Raises:
        ValueError: The entry is none of the accepted forms; the message quotes it and
            says what is accepted.
    """
    text = entry.strip()
    try:
        return _parse(text)
    except ValueError as exc:
        raise ValueError(f"inline_allowed_hosts entry {entry!r} {exc}") from None


def _parse(text: str) -> HostPattern:
    if text.lower() == PUBLIC:
        return HostPattern(text, "public")
    if text == "*":
        raise ValueError(
            f"is ambiguous: write {PUBLIC!r} for every public address; loopback and private "
            "ranges are allowed only by address (127.0.0.1, 10.0.0.0/8)"
        )
    if "://" in text:
        raise ValueError("is a URL: list the host name or address only")
    address = parse_address(text)
    if address is not None:  # a mapped ::ffff:a.b.c.d entry stands for a.b.c.d
        mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
        return HostPattern(text, "network", network=ip_network(mapped or address))
    if "/" in text:
        if parse_address(text.split("/", 1)[0]) is None:
            raise ValueError("is neither a host name, an address nor a CIDR block")
        try:
            return HostPattern(text, "network", network=ip_network(text))
        except ValueError as exc:  # "has host bits set" says what to fix
            raise ValueError(f"is not a valid CIDR block ({exc})") from None
    if ":" in text:
        raise ValueError("has a port: list the host alone (the policy is about hosts)")
    if text.startswith("*."):
        return HostPattern(text, "wildcard", name="." + normalized_name(text[2:]))
    if "*" in text:
        raise ValueError("has a '*' that is not a leading '*.' label ('*.example.com')")
    return HostPattern(text, "name", name=normalized_name(text))


@dataclass(frozen=True, slots=True)
class EgressDecision:
    """Whether one (name, address) may be connected to, and why, for the log."""

    allowed: bool
    reason: str


class EgressPolicy:
    """Decides where inline resources may connect (see the module docstring).

    Args:
        patterns: The parsed ``inline_allowed_hosts``.
    """

    def __init__(self, patterns: Iterable[HostPattern]) -> None:
        self.patterns = tuple(patterns)
        self._public = any(p.kind == PUBLIC for p in self.patterns)
        self._names = frozenset(p.name for p in self.patterns if p.kind == "name")
        self._suffixes = tuple(p.name for p in self.patterns if p.kind == "wildcard")
        self._networks = tuple(p.network for p in self.patterns if p.network is not None)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> EgressPolicy:
        """A policy from ``inline_allowed_hosts`` as written.

        Raises:
            ValueError: An entry is malformed; the message quotes it.
        """
        return cls(parse_host_pattern(entry) for entry in entries)

    def _listed(self, address: IPAddress) -> str | None:
        embedded = _embedded_v4(address)
        for network in self._networks:
            if address in network or (embedded is not None and embedded in network):
                return str(network)
        return None

    def decide(self, name: str | None, address: IPAddress, *, own: bool) -> EgressDecision:
        """May an inline resource connect to ``address``, which ``name`` resolved to?

        Args:
            name: The host name as the reference gave it, or None for an address literal.
            address: Where the connection would go (resolved just now).
            own: Whether ``address`` is one of the gateway's own (an address of a local
                interface: a listener on 0.0.0.0 answers there).

        Returns:
            The decision, with a reason that names the range or entry involved.
        """
        listed = self._listed(address)
        refused = refused_range(address) or ("the gateway's own address" if own else None)
        if refused is not None:
            if listed is not None:
                return EgressDecision(True, f"{refused}, allowed by entry {listed}")
            return EgressDecision(False, f"{refused}, not listed by address")
        if listed is not None:
            return EgressDecision(True, f"listed ({listed})")
        if self._public:
            return EgressDecision(True, f"public ({PUBLIC!r} is listed)")
        if self._name_listed(name):
            return EgressDecision(True, "its name is listed")
        return EgressDecision(False, "public, but neither its name nor its address is listed")

    def _name_listed(self, name: str | None) -> bool:
        if name is None:
            return False
        try:
            key = normalized_name(name)
        except ValueError:
            return False
        return key in self._names or key.endswith(self._suffixes)

    def allows(self, name: str | None, address: IPAddress, *, own: bool) -> bool:
        """``decide(...).allowed``."""
        return self.decide(name, address, own=own).allowed

    def __repr__(self) -> str:
        return f"EgressPolicy({[p.text for p in self.patterns]!r})"
