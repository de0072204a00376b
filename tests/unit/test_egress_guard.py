"""``EgressGuard``: resolves at connect time and returns only allowed addresses; pads every
failure to the connect timeout (checked with an injected clock and sleep, not by timing);
logs why, at INFO for a policy refusal and DEBUG for a network failure. (``is_own_address``
is checked against this machine's interfaces in the integration tests.)"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from lockgate.gateways.resources.egress.guard import EgressGuard
from lockgate.models.security.egress import EgressPolicy, EgressRefusedError, IPAddress
from tests.support import ManualClock


class FakeDns:
    """Answers each name from a table and counts the questions."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return self.answers[host]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def never_own(address: IPAddress) -> bool:
    return False


def guard(
    hosts: list[str],
    dns: FakeDns | None = None,
    clock: ManualClock | None = None,
    sleep: Sleeps | None = None,
) -> EgressGuard:
    return EgressGuard(
        EgressPolicy.from_entries(hosts),
        resolve=dns or FakeDns({}),
        is_own=never_own,
        clock=clock or ManualClock(),
        sleep=sleep or Sleeps(),
    )


async def test_only_allowed_addresses_come_back_in_the_resolvers_order() -> None:
    dns = FakeDns({"api.example.com": ["8.8.8.8", "10.0.0.5", "1.1.1.1", "127.0.0.1"]})
    assert await guard(["public"], dns).addresses("api.example.com", 443) == [
        "8.8.8.8",
        "1.1.1.1",
    ]
    assert dns.asked == ["api.example.com"]


async def test_a_name_resolving_only_to_refused_addresses_is_refused_with_reasons() -> None:
    dns = FakeDns({"localhost": ["127.0.0.1", "::1"]})
    with pytest.raises(EgressRefusedError) as raised:
        await guard(["public"], dns).addresses("localhost", 8000)
    assert "127.0.0.1 (loopback" in str(raised.value)
    assert "::1 (loopback" in str(raised.value)
    assert await guard(["127.0.0.1"], dns).addresses("localhost", 8000) == ["127.0.0.1"]


async def test_an_address_literal_is_checked_without_dns() -> None:
    dns = FakeDns({})
    assert await guard(["127.0.0.1"], dns).addresses("127.0.0.1", 5432) == ["127.0.0.1"]
    assert await guard(["::1"], dns).addresses("[::1]", 5432) == ["::1"]
    with pytest.raises(EgressRefusedError):
        await guard(["public"], dns).addresses("169.254.169.254", 80)
    assert dns.asked == []


async def test_a_malformed_name_is_refused_before_any_lookup() -> None:
    dns = FakeDns({})
    for host in ("/var/run/postgresql", "a b", "x..y", ""):
        with pytest.raises(EgressRefusedError, match="not a valid host name"):
            await guard(["public"], dns).addresses(host, 5432)
    assert dns.asked == []


async def test_a_name_that_does_not_resolve_raises_the_resolvers_error() -> None:
    with pytest.raises(OSError, match="not known"):
        await guard(["public"]).addresses("nowhere.invalid", 80)


async def test_every_call_resolves_again_and_checks_the_new_answer() -> None:
    """A rebinding name: public first, loopback next. Each connection asks once and is
    judged on that answer, so the second cannot reach loopback."""
    dns = FakeDns({"rebind.example": ["93.184.216.34"]})
    checked = guard(["public"], dns)
    assert await checked.addresses("rebind.example", 80) == ["93.184.216.34"]
    dns.answers["rebind.example"] = ["127.0.0.1"]
    with pytest.raises(EgressRefusedError):
        await checked.addresses("rebind.example", 80)
    assert dns.asked == ["rebind.example", "rebind.example"]


async def test_the_gateways_own_address_is_refused() -> None:
    own = EgressGuard(
        EgressPolicy.from_entries(["public"]),
        resolve=FakeDns({"me.example.com": ["93.184.216.34"]}),
        is_own=lambda address: str(address) == "93.184.216.34",
    )
    with pytest.raises(EgressRefusedError, match="the gateway's own address"):
        await own.addresses("me.example.com", 8000)


async def test_failed_pads_to_the_connect_timeout() -> None:
    clock, sleeps = ManualClock(100.0), Sleeps()
    checked = guard(["public"], clock=clock, sleep=sleeps)
    started = checked.now()
    clock.advance(0.25)  # a refusal comes back at once
    await checked.failed(started, 5.0, "127.0.0.1:1", ConnectionRefusedError(111, "refused"))
    clock.advance(5.0)  # a silent port takes the whole timeout
    await checked.failed(started + 0.25, 5.0, "127.0.0.1:2", TimeoutError())
    assert sleeps.calls == [4.75]


async def test_failed_logs_policy_refusals_at_info_and_network_failures_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    checked = guard(["public"])
    with caplog.at_level(logging.DEBUG, logger="lockgate.gateways.resources.egress.guard"):
        await checked.failed(0, 0, "a:1", EgressRefusedError("a:1 is refused: loopback"))
        await checked.failed(0, 0, "b:2", ConnectionRefusedError(111, "Connection refused"))
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert levels == [
        (
            logging.INFO,
            "inline resource: cannot connect to a:1: EgressRefusedError: a:1 is refused: loopback",
        ),
        (
            logging.DEBUG,
            "inline resource: cannot connect to b:2: ConnectionRefusedError: "
            "[Errno 111] Connection refused",
        ),
    ]


async def test_a_host_that_binds_any_address_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    everything = EgressGuard(
        EgressPolicy.from_entries(["public"]),
        resolve=FakeDns({"api.example.com": ["93.184.216.34"]}),
        is_own=lambda address: True,
    )
    with pytest.raises(EgressRefusedError):
        await everything.addresses("api.example.com", 443)
    assert "ip_nonlocal_bind" in caplog.text
