"""ResourceCatalog on its own: declarations become slots without I/O (nothing is created
until the pools open it), '@name' finds a caller's own declaration only, inline references
are checked as their origin requires; and ResourceRegistry is the two parts composed, its
attributes reaching the part that uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from lockgate.errors import ResourceConfigError, ResourceNotFoundError
from lockgate.models.resource import ResourceReference
from lockgate.use_cases.resources.catalog import ResourceCatalog, pool_key
from lockgate.use_cases.resources.registry import ResourceRegistry
from lockgate.use_cases.resources.resolver import ResourceResolver


class Counting:
    """A resolver whose creates are counted: the catalog must never call them."""

    def __init__(self) -> None:
        self.creates = 0

    def validate(self, config: Mapping[str, Any]) -> None:
        if "bad" in config:
            raise ResourceConfigError("'bad' is not a key", key="bad")

    async def create(self, config: Mapping[str, Any], credentials: Any) -> object:
        self.creates += 1
        return object()

    async def health_check(self, resource: Any) -> None:
        return None

    async def close(self, resource: Any) -> None:
        return None


def catalog_with(resolver: Counting, **options: Any) -> ResourceCatalog:
    registry = ResourceRegistry(**options)
    registry.register_resolver("memo", resolver, inline=True)
    return registry.catalog


def memo(**config: Any) -> dict[str, Any]:
    return {"type": "memo", "config": config}


def test_declarations_become_slots_without_creating_anything() -> None:
    resolver = Counting()
    catalog = catalog_with(resolver, allow_inline=True)
    catalog.register_reference("db", ResourceReference.from_dict(memo(size=1)))
    reference = ResourceReference.from_dict(memo(size=2))
    inline = catalog.inline_slot("r", reference, pool_key("r", reference), trusted=False)
    [shared] = catalog.shared_slots()
    assert (shared.label, shared.shared, shared.created) == ("db", True, False)
    assert inline.label.startswith("memo#")
    assert (inline.shared, inline.created, inline.key) == (False, False, reference.pool_key)
    assert resolver.creates == 0


def test_an_inline_slot_is_checked_as_its_origin_requires() -> None:
    catalog = catalog_with(Counting())  # inline references off for callers
    reference = ResourceReference.from_dict(memo())
    with pytest.raises(ResourceConfigError, match="inline references are off"):
        catalog.inline_slot("r", reference, b"k", trusted=False)
    assert catalog.inline_slot("r", reference, b"k", trusted=True).type_name == "memo"
    bad = ResourceReference.from_dict(memo(bad=1))
    with pytest.raises(ResourceConfigError, match=r"Resource 'r': 'bad' is not a key"):
        catalog.inline_slot("r", bad, b"k", trusted=True)


def test_an_at_name_finds_the_callers_own_declaration_only() -> None:
    catalog = catalog_with(Counting(), allow_inline=True)
    catalog.checked_request({"db": memo(size=1)}, principal="alice", trusted=False)
    assert catalog.checked_request({"db": "@db"}, principal="alice", trusted=False) == {
        "db": memo(size=1)
    }
    for principal, trusted in (("bob", False), (None, True), (None, False)):
        with pytest.raises(ResourceNotFoundError, match=r"shared resources: none"):
            catalog.checked_request({"db": "@db"}, principal=principal, trusted=trusted)


def test_a_run_names_shared_slots_by_its_own_name_or_an_alias() -> None:
    catalog = catalog_with(Counting())
    catalog.register_reference("db", ResourceReference.from_dict(memo()))
    assert catalog.shared_slot("db") is catalog.named_slot("orders", "@db")
    with pytest.raises(ResourceNotFoundError, match="no shared resource has that name"):
        catalog.shared_slot("cache")
    with pytest.raises(
        ResourceNotFoundError, match=r"refers to '@cache'.*\(shared resources: db\)"
    ):
        catalog.named_slot("orders", "@cache")


async def test_the_registry_composes_the_two_parts() -> None:
    registry = ResourceRegistry(allow_inline=True)
    registry.register_resolver("memo", Counting(), inline=True)
    resolver = ResourceResolver(registry)
    registry.resolver = resolver
    assert registry.catalog.resolver is resolver
    registry.idle_ttl = 7.0
    assert registry.pools.idle_ttl == 7.0
    references = registry.checked_request({"r": memo(size=1)})
    slot = registry.entry_for("r", references)
    assert registry.pools.pooled(slot.key or b"") is slot
    assert registry.entry_for("r", references) is slot  # an equal reference: the same slot
    await registry.lookup(references)("r")
    assert registry.inline() == {"memo": {"pools": 1, "runs": 1}}
    await registry.close()
