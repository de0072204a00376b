"""ResourceRegistry: one pooled instance per distinct reference (created once, however many
runs ask at once), tenant isolation of inline references, shared resources and their
aliases, checked requests that name the bad entry, credentials read from the secrets (and
scrubbed from errors), health probes, idle sweeps and shutdown.

The resolver here is an in-test fake: counting its creates and closes is the point of the
unit, not a stand-in for a server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from lockgate.errors import (
    ConfigError,
    ResourceConfigError,
    ResourceNotFoundError,
    ResourceUnavailableError,
    SecretNotFoundError,
)
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.resource import ResourceReference
from lockgate.use_cases.resources.registry import ResourceRegistry, RunResources
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key
from tests.support import ManualClock

PASSWORD = "pw-hunter2-e5b1c9d07a"
CREDS = {"user": "app", "password": PASSWORD}
# A guard against a hang, not a timing assertion: everything below finishes in milliseconds.
GUARD = 5.0


class FakeResource:
    """What the fake resolver makes: its config and credentials, and whether it closed."""

    def __init__(self, config: Mapping[str, Any], credentials: Any) -> None:
        self.config = dict(config)
        self.credentials = credentials
        self.closed = False
        self.healthy = True


class FakeResolver:
    """Counts creates and closes; can fail its next creates, or hold them at a gate."""

    type_name = "fake"

    def __init__(self) -> None:
        self.created: list[FakeResource] = []
        self.closed: list[FakeResource] = []
        self.failures: list[Exception] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def validate(self, config: Mapping[str, Any]) -> None:
        unknown = sorted(set(config) - {"host", "port", "pool", "tags"})
        if unknown:
            raise ResourceConfigError(
                f"unknown key {unknown[0]!r} (expected host, port, pool, tags)", key=unknown[0]
            )

    async def create(self, config: Mapping[str, Any], credentials: Any) -> FakeResource:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        resource = FakeResource(config, credentials)
        self.created.append(resource)
        return resource

    async def health_check(self, resource: FakeResource) -> None:
        if not resource.healthy:
            raise ResourceUnavailableError("fake at 127.0.0.1:1 refused the probe")

    async def close(self, resource: FakeResource) -> None:
        resource.closed = True
        self.closed.append(resource)


class Closable:
    """A ready object with ``close()``/``ping()``, as a user's own resource might be."""

    def __init__(self, name: str = "thing") -> None:
        self.name = name
        self.closes = 0
        self.pings = 0
        self.ping_result: bool = True

    def ping(self) -> bool:
        self.pings += 1
        return self.ping_result

    async def close(self) -> None:
        self.closes += 1


def fake_ref(credentials_ref: str | None = None, **config: Any) -> dict[str, Any]:
    reference: dict[str, Any] = {"type": "fake", "config": config}
    if credentials_ref is not None:
        reference["credentials_ref"] = credentials_ref
    return reference


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()


@pytest.fixture
def registry(resolver: FakeResolver, clock: ManualClock) -> ResourceRegistry:
    registry = ResourceRegistry(
        clock=clock,
        idle_ttl=60.0,
        health_timeout=GUARD,
        inline_credentials=["*"],
        allow_inline=True,
    )
    registry.register_resolver("fake", resolver, inline=True)
    return registry


def run_with(registry: ResourceRegistry, resources: Mapping[str, Any]) -> RunResources:
    """What the workflow service does for a run: check the request, then look it up."""
    return registry.lookup(registry.checked_request(resources))


async def secret_manager(**secrets: Any) -> SecretManager:
    manager = SecretManager(InMemorySecretStore(), MasterKey.from_base64(generate_master_key()))
    for name, value in secrets.items():
        await manager.store_secret(name, value)
    return manager


# -- pooling ---------------------------------------------------------------------------------


async def test_200_concurrent_first_requests_share_one_instance_created_once(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    resolver.gate = asyncio.Event()
    # Equal references, their config keys in different orders.
    runs = [
        run_with(
            registry,
            {"db": fake_ref(host="h", port=5432) if i % 2 else fake_ref(port=5432, host="h")},
        )
        for i in range(200)
    ]
    tasks = [asyncio.create_task(run("db")) for run in runs]
    # The creation starts after every request was made: they all wait on the one creation.
    await asyncio.wait_for(resolver.entered.wait(), GUARD)
    resolver.gate.set()
    instances = await asyncio.wait_for(asyncio.gather(*tasks), GUARD)

    assert len(resolver.created) == 1
    assert all(instance is resolver.created[0] for instance in instances)
    assert await registry.health() == {}  # inline instances are counted, not probed
    assert registry.inline() == {"fake": {"pools": 1, "runs": 200}}


async def test_different_config_gets_a_different_instance(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    first = await run_with(registry, {"db": fake_ref(host="a")})("db")
    second = await run_with(registry, {"db": fake_ref(host="b")})("db")
    again = await run_with(registry, {"other_name": fake_ref(host="a")})("other_name")
    assert first is not second
    assert again is first  # the name a run gives it does not matter, the reference does
    assert [r.config for r in resolver.created] == [{"host": "a"}, {"host": "b"}]


async def test_a_run_resolves_each_name_once(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    run = run_with(registry, {"db": fake_ref(host="a"), "db2": fake_ref(host="a")})
    assert await run("db") is await run("db")
    assert await run("db2") is await run("db")
    assert len(resolver.created) == 1
    assert registry.inline() == {"fake": {"pools": 1, "runs": 1}}


async def test_an_inline_reference_is_never_visible_to_another_run(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    run_a = run_with(registry, {"tenant_db": fake_ref(host="tenant-a")})
    await run_a("tenant_db")

    run_b = run_with(registry, {})
    with pytest.raises(ResourceNotFoundError, match="'tenant_db'"):
        await run_b("tenant_db")
    with pytest.raises(ResourceNotFoundError, match="'@tenant_db'"):
        registry.checked_request({"db": "@tenant_db"})
    assert registry.shared_names() == []
    assert registry.unavailable({}, ["tenant_db"]) == ["tenant_db"]
    assert len(resolver.created) == 1


# -- shared resources and aliases ------------------------------------------------------------


async def test_an_alias_gives_a_shared_resource_under_the_runs_own_name(
    registry: ResourceRegistry,
) -> None:
    shared = Closable("redis")
    registry.register("shared_cache", shared)
    run = run_with(registry, {"cache": "@shared_cache"})
    assert await run("cache") is shared
    assert await run("shared_cache") is shared  # not named by the run: the shared one
    assert registry.unavailable({"cache": "@shared_cache"}, ["cache", "shared_cache"]) == []
    assert registry.shared_names() == ["shared_cache"]


async def test_an_unregistered_alias_is_refused_naming_the_entry(
    registry: ResourceRegistry,
) -> None:
    registry.register("known", object())
    with pytest.raises(ResourceNotFoundError) as caught:
        registry.checked_request({"cache": "@x"})
    assert "'cache'" in caught.value.message
    assert "'@x'" in caught.value.message
    assert "known" in caught.value.message  # what is registered
    with pytest.raises(ResourceNotFoundError, match="'cache'"):
        await registry.lookup({"cache": "@x"})("cache")


def test_registering_a_shared_name_twice_or_a_bad_name_is_refused(
    registry: ResourceRegistry,
) -> None:
    registry.register("db", object())
    with pytest.raises(ConfigError, match="'db' is already registered"):
        registry.register_factory("db", object)
    with pytest.raises(ConfigError, match="'bad name' is invalid"):
        registry.register("bad name", object())
    with pytest.raises(ConfigError, match="must be callable"):
        registry.register_factory("made", 42)


# -- checked requests ------------------------------------------------------------------------


def test_an_unknown_type_names_the_entry_and_the_known_types(
    registry: ResourceRegistry,
) -> None:
    registry.register_resolver("other", FakeResolver(), inline=True)
    with pytest.raises(ResourceConfigError) as caught:
        registry.checked_request({"db": {"type": "mystery"}})
    message = caught.value.message
    assert "'db'" in message
    assert "'mystery'" in message
    assert "known: fake, other" in message
    with pytest.raises(ResourceConfigError, match="'mystery'"):
        registry.register_reference("main", ResourceReference("mystery"))
    assert registry.shared_names() == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (3, "got int"),
        ([{"type": "fake"}], "got list"),
        ("shared_db", "as '@name'"),
        ("@", "as '@name'"),
        ({"type": "fake", "conifg": {}}, "'conifg'"),
        ({"config": {}}, "needs a 'type'"),
        ({"type": ""}, "non-empty string"),
        ({"type": "fake", "config": [1]}, "must be an object"),
        ({"type": "fake", "config": "host=a"}, "must be an object"),
        ({"type": "fake", "credentials_ref": 7}, "credentials_ref"),
        ({"type": "fake", "config": {"colour": "red"}}, "'colour'"),
        ({"type": "fake", "config": {"tags": {1, 2}}}, "JSON"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(
    registry: ResourceRegistry, value: Any, fragment: str
) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        registry.checked_request({"ok": fake_ref(), "db": value})
    assert "'db'" in caught.value.message
    assert fragment in caught.value.message
    assert "db" in caught.value.fields.values()


def test_a_bad_name_or_a_non_object_is_refused(registry: ResourceRegistry) -> None:
    with pytest.raises(ResourceConfigError, match="'bad name' is invalid"):
        registry.checked_request({"bad name": fake_ref()})
    with pytest.raises(ResourceConfigError, match="must be an object"):
        registry.checked_request([fake_ref()])  # type: ignore[arg-type]


def test_a_checked_request_is_its_json_form(registry: ResourceRegistry) -> None:
    registry.register("shared", object())
    checked = registry.checked_request(
        {
            "a": ResourceReference("fake", {"host": "h"}, "creds"),
            "b": {"type": "fake"},
            "c": "@shared",
        }
    )
    assert checked == {
        "a": {"type": "fake", "config": {"host": "h"}, "credentials_ref": "creds"},
        "b": {"type": "fake", "config": {}},
        "c": "@shared",
    }


# -- failures --------------------------------------------------------------------------------


async def test_a_failed_creation_is_not_kept_and_the_next_request_retries(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    resolver.failures.append(ResourceUnavailableError("fake at 127.0.0.1:1 refused"))
    run = run_with(registry, {"db": fake_ref(host="a")})
    with pytest.raises(ResourceUnavailableError) as caught:
        await run("db")
    assert caught.value.message == "Resource 'db' (fake): fake at 127.0.0.1:1 refused"
    assert caught.value.fields["name"] == "db"
    assert caught.value.retryable
    assert registry.inline() == {}  # nothing live, nothing registered
    assert registry.shared_names() == []

    instance = await run("db")
    assert resolver.created == [instance]
    assert registry.inline() == {"fake": {"pools": 1, "runs": 1}}


async def test_a_failed_creation_fails_every_waiting_request(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    resolver.gate = asyncio.Event()
    resolver.failures.append(ResourceUnavailableError("fake at 127.0.0.1:1 refused"))
    runs = [run_with(registry, {f"db{i}": fake_ref()}) for i in range(5)]
    tasks = [asyncio.create_task(run(f"db{i}")) for i, run in enumerate(runs)]
    await asyncio.wait_for(resolver.entered.wait(), GUARD)
    resolver.gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), GUARD)
    assert all(isinstance(r, ResourceUnavailableError) for r in results)
    assert [str(r).split(" (")[0] for r in results] == [f"Resource 'db{i}'" for i in range(5)]
    assert resolver.created == []


async def test_a_cancelled_caller_does_not_cancel_the_creation_for_others(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    resolver.gate = asyncio.Event()
    first = asyncio.create_task(run_with(registry, {"db": fake_ref()})("db"))
    second = asyncio.create_task(run_with(registry, {"db": fake_ref()})("db"))
    await asyncio.wait_for(resolver.entered.wait(), GUARD)
    first.cancel()
    resolver.gate.set()
    assert await asyncio.wait_for(second, GUARD) is resolver.created[0]
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_custom_factorys_own_error_is_reported_by_type_and_text(
    registry: ResourceRegistry,
) -> None:
    async def broken() -> Any:
        raise RuntimeError("disk full")

    registry.register_factory("broken", broken)
    with pytest.raises(ResourceUnavailableError) as caught:
        await registry.lookup({})("broken")
    assert caught.value.message == "Resource 'broken' (factory): RuntimeError: disk full"


# -- credentials -----------------------------------------------------------------------------


async def test_credentials_are_read_from_the_secret_manager(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    registry.secrets = await secret_manager(db_creds=CREDS)
    await run_with(registry, {"db": fake_ref("db_creds", host="a")})("db")
    assert [r.credentials for r in resolver.created] == [CREDS]


async def test_a_missing_secret_names_the_resource_and_the_secret(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    registry.secrets = await secret_manager(other=CREDS)
    with pytest.raises(SecretNotFoundError) as caught:
        await run_with(registry, {"db": fake_ref("db_creds")})("db")
    assert "'db'" in caught.value.message
    assert "'db_creds'" in caught.value.message
    assert caught.value.fields["secret"] == "db_creds"
    assert resolver.created == []


async def test_credentials_without_secrets_configured_say_so(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        await run_with(registry, {"db": fake_ref("db_creds")})("db")
    assert "'db'" in caught.value.message
    assert "'db_creds'" in caught.value.message
    assert "no secrets configured" in caught.value.message
    assert resolver.created == []


async def test_a_resolver_error_quoting_the_password_is_scrubbed(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    registry.secrets = await secret_manager(db_creds=CREDS)
    resolver.failures.append(
        ResourceUnavailableError(f"fake rejected user app with password {PASSWORD}")
    )
    resolver.failures.append(RuntimeError(f"driver said: bad password {PASSWORD!r}"))
    run = run_with(registry, {"db": fake_ref("db_creds")})
    for _ in range(2):
        with pytest.raises(ResourceUnavailableError) as caught:
            await run("db")
        for text in (caught.value.message, str(caught.value), repr(caught.value)):
            assert PASSWORD not in text
            assert "***" in text
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


async def test_a_health_error_quoting_the_password_is_scrubbed(
    registry: ResourceRegistry,
) -> None:
    class Leaky(FakeResolver):
        async def health_check(self, resource: FakeResource) -> None:
            raise ResourceUnavailableError(f"ping with {resource.credentials['password']} failed")

    registry.register_resolver("leaky", Leaky())
    registry.secrets = await secret_manager(db_creds=CREDS)
    registry.register_reference("main", ResourceReference("leaky", {}, "db_creds"))
    report = (await registry.health())["main"]
    assert report["status"] == "unhealthy"
    assert report["error"] == "ping with *** failed"


# -- custom resolvers and factories ----------------------------------------------------------


async def test_a_resolver_given_as_a_plain_async_function(registry: ResourceRegistry) -> None:
    made: list[tuple[dict[str, Any], Any]] = []

    async def custom_resolver(config: Mapping[str, Any], credentials: Any) -> Closable:
        made.append((dict(config), credentials))
        return Closable(config["name"])

    registry.register_resolver("custom", custom_resolver, inline=True)
    registry.secrets = await secret_manager(token="tok-123456")
    run = run_with(registry, {"thing": {"type": "custom", "config": {"name": "x"}}})
    thing = await run("thing")
    authed = await run_with(
        registry,
        {"thing": {"type": "custom", "config": {"name": "y"}, "credentials_ref": "token"}},
    )("thing")
    assert isinstance(thing, Closable)
    assert thing.name == "x"
    assert made == [({"name": "x"}, None), ({"name": "y"}, "tok-123456")]

    registry.register_reference("shared_thing", ResourceReference("custom", {"name": "z"}))
    shared = await run_with(registry, {"t": "@shared_thing"})("t")
    shared.ping_result = False  # its ping() is its health check
    report = (await registry.health())["shared_thing"]
    assert report["status"] == "unhealthy"
    assert report["type"] == "custom"
    assert "ping() returned False" in report["error"]

    await registry.close()  # its close() closes it
    assert (thing.closes, authed.closes, shared.closes) == (1, 1, 1)


async def test_register_factory_takes_sync_async_and_create_objects(
    registry: ResourceRegistry,
) -> None:
    calls: list[str] = []

    def sync_factory() -> Closable:
        calls.append("sync")
        return Closable("sync")

    async def async_factory() -> Closable:
        calls.append("async")
        return Closable("async")

    class PoolFactory:  # the seed's DatabasePoolFactory pattern
        async def create(self) -> Closable:
            calls.append("object")
            return Closable("object")

    class SyncCreate:
        def create(self) -> Closable:
            calls.append("sync-object")
            return Closable("sync-object")

    registry.register_factory("a", sync_factory)
    registry.register_factory("b", async_factory)
    registry.register_factory("c", PoolFactory())
    registry.register_factory("d", SyncCreate())
    assert calls == []  # created on first use, not when registered

    runs = [registry.lookup({}), registry.lookup({})]
    for run in runs:
        made = [await run(name) for name in "abcd"]
        assert [m.name for m in made] == ["sync", "async", "object", "sync-object"]
    assert calls == ["sync", "async", "object", "sync-object"]  # once each

    await registry.close()
    assert [m.closes for m in made] == [1, 1, 1, 1]


# -- health ----------------------------------------------------------------------------------


async def test_health_probes_every_shared_resource_and_only_counts_inline_ones(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    registry.register_reference("main_db", ResourceReference("fake", {"host": "m"}))
    registry.register("given", Closable(), health_check=_healthy)
    inline = run_with(registry, {"db": fake_ref(host="i")})
    instance = await inline("db")

    reports = await registry.health()
    assert reports.pop("main_db") == {"status": "healthy", "type": "fake", "in_use": 0}
    assert reports.pop("given")["status"] == "healthy"
    assert reports == {}  # another tenant's inline instance is neither named nor probed
    assert registry.inline() == {"fake": {"pools": 1, "runs": 1}}
    assert len(resolver.created) == 2  # the shared one was created by its first probe

    shared = resolver.created[1]
    shared.healthy = False
    report = (await registry.health())["main_db"]
    assert report["status"] == "unhealthy"
    assert report["error"] == "fake at 127.0.0.1:1 refused the probe"
    instance.healthy = False  # the inline one is never probed
    assert set(await registry.health()) == {"main_db", "given"}


async def _healthy(resource: Any) -> bool:
    return True


async def test_an_unhealthy_or_failing_or_slow_probe_is_reported(clock: ManualClock) -> None:
    registry = ResourceRegistry(clock=clock, health_timeout=0.05)
    never = asyncio.Event()

    async def false(resource: Any) -> bool:
        return False

    async def raising(resource: Any) -> bool:
        raise ConnectionResetError("reset by peer")

    async def slow(resource: Any) -> bool:
        await never.wait()
        return True

    async def slow_factory() -> object:
        await never.wait()
        return object()

    registry.register("ok", object(), health_check=_healthy)
    registry.register("false", object(), health_check=false)
    registry.register("raising", object(), health_check=raising)
    registry.register("slow", object(), health_check=slow)
    registry.register_factory("slow_to_make", slow_factory)

    reports = await asyncio.wait_for(registry.health(), GUARD)
    assert {name: r["status"] for name, r in reports.items()} == {
        "ok": "healthy",
        "false": "unhealthy",
        "raising": "unhealthy",
        "slow": "unhealthy",
        "slow_to_make": "unhealthy",
    }
    assert "returned False" in reports["false"]["error"]
    assert reports["raising"]["error"] == "ConnectionResetError: reset by peer"
    assert reports["slow"]["error"] == "no answer within 0.05 s"
    assert reports["slow_to_make"]["error"] == "no answer within 0.05 s"


# -- sweeps and shutdown ---------------------------------------------------------------------


async def test_sweep_never_closes_a_held_instance_and_closes_an_idle_one(
    registry: ResourceRegistry, resolver: FakeResolver, clock: ManualClock
) -> None:
    holder = run_with(registry, {"db": fake_ref(host="a")})
    other = run_with(registry, {"db": fake_ref(host="a")})
    first = await holder("db")
    await other("db")
    other.release()
    clock.advance(10_000)
    assert await registry.sweep() == 0  # ``holder`` has not released it
    assert resolver.closed == []

    holder.release()
    clock.advance(59)
    assert await registry.sweep() == 0  # idle for less than idle_ttl
    clock.advance(2)
    assert await registry.sweep() == 1
    assert resolver.closed == [first]
    assert first.closed
    assert await registry.health() == {}

    again = await run_with(registry, {"db": fake_ref(host="a")})("db")
    assert again is not first
    assert len(resolver.created) == 2


async def test_sweep_leaves_shared_resources_open(
    registry: ResourceRegistry, resolver: FakeResolver, clock: ManualClock
) -> None:
    registry.register_reference("main_db", ResourceReference("fake"))
    run = registry.lookup({})
    await run("main_db")
    run.release()
    clock.advance(10_000)
    assert await registry.sweep() == 0
    assert resolver.closed == []


async def test_close_closes_what_it_made_not_what_it_was_given(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    given = Closable("given")
    made = Closable("made")
    registry.register("given", given)
    registry.register_factory("made", lambda: made)
    registry.register_factory("unused", Closable)
    registry.register_reference("main_db", ResourceReference("fake", {"host": "m"}))
    run = run_with(registry, {"db": fake_ref(host="i")})
    for name in ("given", "made", "main_db", "db"):
        await run(name)

    await registry.close()
    assert given.closes == 0
    assert made.closes == 1
    assert sorted(r.config["host"] for r in resolver.closed) == ["i", "m"]

    for name in ("made", "db", "unused"):
        with pytest.raises(ResourceUnavailableError, match="shutting down"):
            await run_with(registry, {"db": fake_ref(host="i")})(name)
    assert len(resolver.created) == 2


async def test_an_instance_finished_during_close_is_closed_not_handed_out(
    registry: ResourceRegistry, resolver: FakeResolver
) -> None:
    resolver.gate = asyncio.Event()
    request = asyncio.create_task(run_with(registry, {"db": fake_ref()})("db"))
    await asyncio.wait_for(resolver.entered.wait(), GUARD)
    await registry.close()
    resolver.gate.set()
    with pytest.raises(ResourceUnavailableError, match="shutting down"):
        await asyncio.wait_for(request, GUARD)
    assert resolver.closed == resolver.created
    assert len(resolver.closed) == 1


async def test_distinct_inline_references_past_the_cap_evict_the_least_recently_used_idle_one(
    clock: ManualClock,
) -> None:
    resolver = FakeResolver()
    registry = ResourceRegistry(max_inline=2, clock=clock, allow_inline=True)
    registry.register_resolver("fake", resolver, inline=True)

    async def use(port: int) -> RunResources:
        run = registry.lookup({"db": {"type": "fake", "config": {"port": port}}})
        await run("db")
        return run

    first = await use(1)
    first.release()
    clock.advance(1)
    second = await use(2)  # held: never evicted
    clock.advance(1)
    third = await use(3)  # the cap is reached: port 1, idle and oldest, makes room
    await asyncio.sleep(0)  # its close runs as a task
    assert [r.config["port"] for r in resolver.closed] == [1]
    with pytest.raises(ResourceUnavailableError, match="max_inline_resources"):
        await use(4)  # ports 2 and 3 are both held
    second.release()
    third.release()
    await registry.close()
    assert sorted(r.config["port"] for r in resolver.closed) == [1, 2, 3]


def test_with_inline_references_off_only_shared_resources_are_accepted() -> None:
    registry = ResourceRegistry(allow_inline=False)
    registry.register_resolver("fake", FakeResolver(), inline=True)
    registry.register("main_db", object())
    assert registry.checked_request({"db": "@main_db"}) == {"db": "@main_db"}
    with pytest.raises(ResourceConfigError, match="shared resources only") as refused:
        registry.checked_request({"db": {"type": "fake", "config": {}}})
    assert refused.value.fields["key"] == "db"


async def test_inline_credentials_are_refused_unless_the_secret_is_listed() -> None:
    registry = ResourceRegistry(inline_credentials=["public_api"], allow_inline=True)
    registry.register_resolver("fake", FakeResolver(), inline=True)
    reference = {"type": "fake", "config": {"host": "evil"}, "credentials_ref": "prod_db"}
    with pytest.raises(ResourceConfigError, match="may not name credentials_ref 'prod_db'"):
        registry.checked_request({"db": reference})
    with pytest.raises(ResourceConfigError, match="inline_credentials"):
        await registry.lookup({"db": reference})("db")  # a resumed run is checked again
    listed = {**reference, "credentials_ref": "public_api"}
    assert registry.checked_request({"db": listed}) == {"db": listed}
    registry.register_reference(  # shared resources take any secret: the operator chose
        "main_db", ResourceReference("fake", {"host": "db"}, credentials_ref="prod_db")
    )


async def test_failed_creations_hold_no_slot_under_the_cap() -> None:
    resolver = FakeResolver()
    registry = ResourceRegistry(max_inline=1, allow_inline=True)
    registry.register_resolver("fake", resolver, inline=True)
    for port in range(5):
        resolver.failures.append(ResourceUnavailableError("refused"))
        with pytest.raises(ResourceUnavailableError):
            await registry.lookup({"db": {"type": "fake", "config": {"port": port}}})("db")
    run = registry.lookup({"db": {"type": "fake", "config": {"port": 99}}})
    assert (await run("db")).config == {"port": 99}
    await registry.close()


async def test_an_instance_being_created_for_waiting_runs_is_never_evicted() -> None:
    resolver = FakeResolver()
    resolver.gate = asyncio.Event()
    registry = ResourceRegistry(max_inline=1, allow_inline=True)
    registry.register_resolver("fake", resolver, inline=True)
    waiting = asyncio.ensure_future(
        registry.lookup({"db": {"type": "fake", "config": {"port": 1}}})("db")
    )
    await asyncio.wait_for(resolver.entered.wait(), GUARD)
    with pytest.raises(ResourceUnavailableError, match="max_inline_resources"):
        await registry.lookup({"db": {"type": "fake", "config": {"port": 2}}})("db")
    resolver.gate.set()
    instance = await asyncio.wait_for(waiting, GUARD)
    assert not instance.closed
    await registry.close()
    assert instance.closed


async def test_a_cancelled_sweep_still_closes_what_it_took_and_close_waits_for_it(
    clock: ManualClock,
) -> None:
    closing = asyncio.Event()
    release = asyncio.Event()

    class SlowClose(FakeResolver):
        async def close(self, resource: FakeResource) -> None:
            closing.set()
            await release.wait()
            await super().close(resource)

    resolver = SlowClose()
    registry = ResourceRegistry(idle_ttl=10, clock=clock, allow_inline=True)
    registry.register_resolver("fake", resolver, inline=True)
    run = registry.lookup({"db": {"type": "fake", "config": {}}})
    instance = await run("db")
    run.release()
    clock.advance(11)
    sweep = asyncio.ensure_future(registry.sweep())
    await asyncio.wait_for(closing.wait(), GUARD)
    sweep.cancel()
    release.set()
    await registry.close()
    assert instance.closed
    assert resolver.closed == [instance]
