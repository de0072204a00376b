"""How the registry treats a caller's inline references since the egress policy: off by
default; created with ``create_inline`` and the registry's guard; refused for resolvers
that cannot apply the policy unless the operator opts them in; shared resources (the
operator's) created as before with ``create``.

The resolvers here are in-test fakes: what the registry calls, and with what, is the point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from lockgate.errors import ResourceConfigError, ResourceUnavailableError
from lockgate.gateways.interfaces import IEgressGuard, IInlineResourceResolver
from lockgate.gateways.resources.egress.guard import EgressGuard
from lockgate.models.resource import ResourceReference
from lockgate.models.security.egress import UNREACHABLE, EgressPolicy, IPAddress
from lockgate.use_cases.resources.registry import ResourceRegistry


async def no_dns(host: str, port: int) -> Sequence[str]:
    raise OSError("no DNS in this test")


def never_own(address: IPAddress) -> bool:
    return False


def guard() -> EgressGuard:
    return EgressGuard(EgressPolicy.from_entries(["public"]), resolve=no_dns, is_own=never_own)


class InlineResolver:
    """Records which of ``create``/``create_inline`` ran, and with which guard."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, IEgressGuard | None]] = []

    def validate(self, config: Mapping[str, Any]) -> None:
        if "bad" in config:
            raise ResourceConfigError("fake config 'bad' is not a key", key="bad")

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        self.validate(config)
        if "proxy" in config:
            raise ResourceConfigError(
                "fake config 'proxy' cannot be set in an inline reference", key="proxy"
            )

    async def create(self, config: Mapping[str, Any], credentials: Any) -> str:
        self.calls.append(("create", None))
        return "shared"

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> str:
        self.calls.append(("create_inline", egress))
        if config.get("unreachable"):
            raise ResourceUnavailableError(UNREACHABLE)
        return "inline"

    async def health_check(self, resource: Any) -> None:
        return None

    async def close(self, resource: Any) -> None:
        return None


def test_the_fake_is_an_inline_resolver() -> None:
    assert isinstance(InlineResolver(), IInlineResourceResolver)


def test_inline_references_are_off_by_default() -> None:
    registry = ResourceRegistry(egress=guard())
    registry.register_resolver("fake", InlineResolver())
    with pytest.raises(ResourceConfigError, match="allow_inline_resources") as refused:
        registry.checked_request({"api": {"type": "fake", "config": {}}})
    assert refused.value.fields["key"] == "api"


async def test_inline_references_are_created_with_the_registrys_guard() -> None:
    egress, resolver = guard(), InlineResolver()
    registry = ResourceRegistry(allow_inline=True, egress=egress)
    registry.register_resolver("fake", resolver)
    registry.register_reference("main", ResourceReference("fake", {}))
    run = registry.lookup(registry.checked_request({"api": {"type": "fake"}, "db": "@main"}))
    assert await run("api") == "inline"
    assert await run("db") == "shared"
    assert resolver.calls == [("create_inline", egress), ("create", None)]
    await registry.close()


async def test_one_error_text_for_an_unreachable_inline_host() -> None:
    registry = ResourceRegistry(allow_inline=True, egress=guard())
    registry.register_resolver("fake", InlineResolver())
    run = registry.lookup({"api": {"type": "fake", "config": {"unreachable": True}}})
    with pytest.raises(ResourceUnavailableError) as failed:
        await run("api")
    assert failed.value.message == f"Resource 'api' (fake): {UNREACHABLE}"


def test_what_a_caller_may_not_choose_is_refused_naming_the_entry_and_key() -> None:
    registry = ResourceRegistry(allow_inline=True, egress=guard())
    registry.register_resolver("fake", InlineResolver())
    with pytest.raises(ResourceConfigError, match="'proxy' cannot be set") as refused:
        registry.checked_request({"api": {"type": "fake", "config": {"proxy": "http://p"}}})
    assert refused.value.message.startswith("Resource 'api': ")
    assert refused.value.fields["key"] == "proxy"
    # The operator may: shared resources are not the caller's.
    registry.register_reference("proxied", ResourceReference("fake", {"proxy": "http://p"}))


def test_without_a_guard_inline_references_are_refused_clearly() -> None:
    registry = ResourceRegistry(allow_inline=True)
    registry.register_resolver("fake", InlineResolver())
    with pytest.raises(ResourceConfigError, match="need an egress policy"):
        registry.checked_request({"api": {"type": "fake"}})


async def test_a_custom_resolver_is_refused_inline_unless_opted_in() -> None:
    """The seed's ``(config, credentials) -> resource`` resolver cannot apply the policy:
    shared use works as before; inline use needs the operator's ``inline=True``."""

    async def make_graph(config: Mapping[str, Any], credentials: Any) -> dict[str, Any]:
        return dict(config)

    registry = ResourceRegistry(allow_inline=True, egress=guard())
    registry.register_resolver("graph", make_graph)
    registry.register_reference("shared_graph", ResourceReference("graph", {"n": 1}))
    with pytest.raises(ResourceConfigError, match="does not apply the egress policy") as refused:
        registry.checked_request({"g": {"type": "graph", "config": {"n": 2}}})
    assert "'@name'" in refused.value.message
    assert "inline=True" in refused.value.message
    assert await registry.lookup({"g": "@shared_graph"})("g") == {"n": 1}

    registry.register_resolver("graph", make_graph, inline=True)
    assert await registry.lookup({"g": {"type": "graph", "config": {"n": 2}}})("g") == {"n": 2}
    registry.register_resolver("graph", make_graph)  # registered again: opted out again
    with pytest.raises(ResourceConfigError, match="does not apply the egress policy"):
        registry.checked_request({"g": {"type": "graph", "config": {"n": 3}}})
    await registry.close()
