"""The egress policy of inline resources (``models.egress``): which (name, address) pairs a
caller's reference may reach. Refused ranges in every spelling (IPv4-mapped, NAT64, 6to4),
the metadata services, the gateway's own addresses; only an address entry unlocks them;
names and wildcards only pick public hosts; bad entries are named.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgate.models.security.egress import (
    EgressPolicy,
    parse_host_pattern,
    refused_range,
)

PUBLIC = EgressPolicy.from_entries(["public"])

REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",
    "100.100.100.200",  # Alibaba Cloud's metadata service, inside CGNAT
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack metadata
    "169.254.170.2",  # ECS task metadata
    "192.0.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::127.0.0.1",  # IPv4-compatible, deprecated
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::ffff:0.0.0.0",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",
    "100::1",
    "2001::1",  # Teredo
    "2001:db8::1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "3fff::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS's IPv6 metadata service
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "4000::1",  # outside global unicast
]

ALLOWED_PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "11.0.0.1",
    "172.15.255.255",
    "172.32.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "169.253.255.255",
    "192.169.0.1",
    "223.255.255.255",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of a public address
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
]


@pytest.mark.parametrize("address", REFUSED)
def test_refused_ranges_are_refused_by_default(address: str) -> None:
    decision = PUBLIC.decide(None, ip_address(address), own=False)
    assert not decision.allowed
    assert "not listed by address" in decision.reason
    assert refused_range(ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED_PUBLIC)
def test_public_addresses_are_allowed_by_public(address: str) -> None:
    assert PUBLIC.allows("api.example.com", ip_address(address), own=False)
    assert refused_range(ip_address(address)) is None


def test_the_metadata_services_are_named_in_the_reason() -> None:
    assert "metadata" in PUBLIC.decide(None, ip_address("169.254.169.254"), own=False).reason
    assert "metadata" in PUBLIC.decide(None, ip_address("fd00:ec2::254"), own=False).reason


def test_the_gateways_own_address_is_refused_even_when_public() -> None:
    decision = PUBLIC.decide("me.example.com", ip_address("8.8.8.8"), own=True)
    assert not decision.allowed
    assert "the gateway's own address" in decision.reason
    names = EgressPolicy.from_entries(["public", "me.example.com", "*.example.com"])
    assert not names.allows("me.example.com", ip_address("8.8.8.8"), own=True)


def test_only_an_address_entry_unlocks_a_refused_address() -> None:
    loopback = EgressPolicy.from_entries(["127.0.0.1"])
    assert loopback.allows("localhost", ip_address("127.0.0.1"), own=True)
    assert loopback.allows(None, ip_address("::ffff:127.0.0.1"), own=True)
    assert not loopback.allows(None, ip_address("127.0.0.2"), own=True)
    assert not loopback.allows(None, ip_address("::1"), own=True)
    block = EgressPolicy.from_entries(["127.0.0.0/8", "::1", "fd00::/8"])
    assert block.allows(None, ip_address("127.0.0.2"), own=False)
    assert block.allows(None, ip_address("::1"), own=False)
    assert block.allows(None, ip_address("fd00:ec2::254"), own=False)
    mapped = EgressPolicy.from_entries(["::ffff:10.0.0.5"])
    assert mapped.allows(None, ip_address("10.0.0.5"), own=False)


def test_names_never_unlock_a_refused_address() -> None:
    """A name's DNS may be someone else's (a partner, a wildcard zone): checking the
    address, not the name, is what stops it pointing at loopback or the metadata service."""
    policy = EgressPolicy.from_entries(["localhost", "api.partner.com", "*.internal.example"])
    assert not policy.allows("localhost", ip_address("127.0.0.1"), own=False)
    assert not policy.allows("api.partner.com", ip_address("169.254.169.254"), own=False)
    assert not policy.allows("db.internal.example", ip_address("10.0.0.5"), own=False)


def test_names_and_wildcards_pick_public_hosts_when_public_is_not_listed() -> None:
    policy = EgressPolicy.from_entries(["api.example.com", "*.partner.io"])
    public = ip_address("93.184.216.34")
    assert policy.allows("API.Example.COM.", public, own=False)
    assert policy.allows("a.partner.io", public, own=False)
    assert policy.allows("a.b.partner.io", public, own=False)
    assert not policy.allows("partner.io", public, own=False)  # the apex is not below it
    assert not policy.allows("evilpartner.io", public, own=False)
    assert not policy.allows("other.example.com", public, own=False)
    assert not policy.allows(None, public, own=False)  # an address literal has no name
    assert EgressPolicy.from_entries(["93.184.216.0/24"]).allows(None, public, own=False)


def test_an_empty_list_allows_nothing() -> None:
    nothing = EgressPolicy.from_entries([])
    assert not nothing.allows("example.com", ip_address("93.184.216.34"), own=False)


def test_internationalised_names_compare_in_punycode() -> None:
    policy = EgressPolicy.from_entries(["bücher.example"])
    assert policy.allows("xn--bcher-kva.example", ip_address("8.8.4.4"), own=False)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("*", "ambiguous"),
        ("http://api.example.com", "is a URL"),
        ("10.0.0.1/8", "host bits set"),
        ("example.com/api", "neither a host name"),
        ("api.example.com:443", "has a port"),
        ("[::1]:80", "has a port"),
        ("api.*.example.com", "leading '*.'"),
        ("", "not a valid host name"),
        ("a..b", "not a valid host name"),
        ("-a.example.com", "not a valid host name"),
    ],
)
def test_a_bad_entry_is_quoted_with_what_is_wrong(entry: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="inline_allowed_hosts entry") as raised:
        parse_host_pattern(entry)
    assert repr(entry) in str(raised.value)
    assert fragment in str(raised.value)


# -- properties ------------------------------------------------------------------------------

POLICIES = st.sampled_from(
    [
        ["public"],
        ["public", "127.0.0.0/8"],
        ["10.0.0.0/8", "api.example.com"],
        ["*.example.com", "169.254.169.254"],
        [],
    ]
).map(EgressPolicy.from_entries)
V4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
V6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))


@given(V4, POLICIES, st.booleans())
def test_an_ipv4_address_and_its_mapped_ipv6_form_get_one_answer(
    address: IPv4Address, policy: EgressPolicy, own: bool
) -> None:
    mapped = IPv6Address(f"::ffff:{address}")
    assert policy.allows("h.example.com", address, own=own) == policy.allows(
        "h.example.com", mapped, own=own
    )
    nat64 = IPv6Address(int(IPv6Address("64:ff9b::")) | int(address))
    assert policy.allows(None, address, own=own) == policy.allows(None, nat64, own=own)


@given(st.one_of(V4, V6))
def test_every_address_python_calls_non_global_is_refused(
    address: IPv4Address | IPv6Address,
) -> None:
    """An independent check of the tables: whatever the standard library counts as not
    globally reachable, the policy refuses too (it refuses more: multicast, 6to4, NAT64 of
    a refused address)."""
    if PUBLIC.allows(None, address, own=False):
        embedded = address.ipv4_mapped if isinstance(address, IPv6Address) else None
        assert (embedded or address).is_global


@given(st.one_of(V4, V6), POLICIES)
def test_own_addresses_are_refused_unless_listed_by_address(
    address: IPv4Address | IPv6Address, policy: EgressPolicy
) -> None:
    listed = any(address in p.network for p in policy.patterns if p.network is not None) or (
        isinstance(address, IPv6Address)
        and address.ipv4_mapped is not None
        and any(address.ipv4_mapped in p.network for p in policy.patterns if p.network is not None)
    )
    assert policy.allows("me.example.com", address, own=True) == listed


@given(st.one_of(V4, V6))
def test_listing_an_address_always_lets_it_through(address: IPv4Address | IPv6Address) -> None:
    assert EgressPolicy.from_entries([str(address)]).allows(None, address, own=True)
    assert EgressPolicy.from_entries([str(ip_network(address))]).allows(None, address, own=True)


@given(st.sampled_from(REFUSED), st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){0,3}", fullmatch=True))
def test_no_name_entry_unlocks_a_refused_address(address: str, name: str) -> None:
    policy = EgressPolicy.from_entries(["public", name, f"*.{name}"])
    assert not policy.allows(name, ip_address(address), own=False)
    assert not policy.allows(f"x.{name}", ip_address(address), own=False)
