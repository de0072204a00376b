"""Resources as runs see them, through the composition root, against the real PostgreSQL on
this machine: one pool for 1,000 concurrent runs, tenants that never see each other's inline
resources, and the faults a step must get a clear error for (bad credentials, an unreachable
host, a server dropping every connection).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from lockgate import AsyncWorkflowBuilder, ResourceReference, ResourceRegistry, WorkflowRequest
from lockgate.bootstrap import Application, build
from lockgate.config.settings import Settings
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.run import RunStatus
from lockgate.models.security.egress import UNREACHABLE
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key
from tests.servers import silent_listener

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "pw-" + secrets.token_hex(10)
MAX_SIZE = 5


@pytest.fixture
async def gateway() -> AsyncIterator[Application]:
    key = MasterKey.from_base64(generate_master_key())
    manager = SecretManager(InMemorySecretStore(), key, cache_ttl=60)
    await manager.store_secret("db_creds", {"user": "postgres", "password": PASSWORD})
    settings = Settings(
        run_store="memory://",
        shutdown_grace=1,
        allow_inline_resources=True,
        inline_allowed_hosts=["127.0.0.1"],
        inline_credentials=["db_creds", "bad_creds"],
    )
    application = build(settings, secret_manager=manager)
    application.register_workflow(
        "query",
        AsyncWorkflowBuilder("query")
        .add_async_code(
            "run",
            """
db = await get_resource("db")
async with db.acquire() as conn:
    value = await conn.fetchval("SELECT $1::int FROM pg_sleep(0.002)", n)
result = {"value": value}
""",
            required_resources=["db"],
        )
        .build(),
    )
    application.register_workflow(
        "remember",
        AsyncWorkflowBuilder("remember")
        .add_async_code(
            "put",
            """
cache = await get_resource("cache")
if value is not None:
    await cache.set("tenant-data", value)
result = {"seen": await cache.get("tenant-data")}
""",
        )
        .build(),
    )
    async with application:
        yield application


def database(app_name: str, **config: object) -> ResourceReference:
    return ResourceReference(
        "database",
        {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "test",
            "max_size": MAX_SIZE,
            "server_settings": {"application_name": app_name},
            **config,
        },
        credentials_ref="db_creds",
    )


async def connections(app_name: str) -> int:
    connection = await asyncpg.connect(PG_DSN)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app_name
        )
        return count
    finally:
        await connection.close()


async def test_a_thousand_concurrent_runs_share_one_pool_within_max_size(
    gateway: Application,
) -> None:
    app_name = "lockgate-test-" + secrets.token_hex(4)
    peak = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, await connections(app_name))
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    runs = await asyncio.gather(
        *(
            gateway.execute_workflow(
                "query",
                WorkflowRequest(parameters={"n": n}, resources={"db": database(app_name)}),
            )
            for n in range(1000)
        )
    )
    done.set()
    await sampler
    assert [r.result["run"]["value"] for r in runs] == list(range(1000)), runs[0].error
    assert 0 < peak <= MAX_SIZE
    health = await gateway.health_check()
    assert health["inline_resources"] == {"database": {"pools": 1, "runs": 0}}


async def test_tenant_b_never_sees_tenant_a_inline_cache(gateway: Application) -> None:
    def cache(tenant: str) -> ResourceReference:
        return ResourceReference("cache", {"backend": "memory", "namespace": tenant})

    a = await gateway.execute_workflow(
        "remember",
        WorkflowRequest(parameters={"value": "tenant-A-data"}, resources={"cache": cache("A")}),
    )
    b = await gateway.execute_workflow(
        "remember", WorkflowRequest(parameters={"value": None}, resources={"cache": cache("B")})
    )
    nameless = await gateway.execute_workflow(
        "remember", WorkflowRequest(parameters={"value": None})
    )
    assert a.result["put"] == {"seen": "tenant-A-data"}
    assert b.result["put"] == {"seen": None}
    assert nameless.status is RunStatus.FAILED
    assert nameless.error is not None
    assert "'cache' was not given to this run" in nameless.error


async def test_rejected_credentials_name_the_resource_and_never_the_password(
    gateway: Application,
) -> None:
    role = "no_such_role_" + secrets.token_hex(4)
    assert gateway.secret_manager is not None
    await gateway.secret_manager.store_secret("bad_creds", {"user": role, "password": PASSWORD})
    reference = ResourceReference(
        "database", {"host": "127.0.0.1", "database": "test"}, credentials_ref="bad_creds"
    )
    run = await gateway.execute_workflow(
        "query", WorkflowRequest(parameters={"n": 1}, resources={"db": reference})
    )
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "Resource 'db' (database)" in run.error
    assert role in run.error
    assert PASSWORD not in run.error
    assert PASSWORD not in str(run.to_dict())


@pytest.fixture
def silent_port() -> Iterator[int]:
    with silent_listener() as port:
        yield port


async def test_an_unreachable_host_fails_the_step_within_its_connect_timeout(
    gateway: Application, silent_port: int
) -> None:
    reference = ResourceReference(
        "database",
        {"host": "127.0.0.1", "port": silent_port, "database": "test", "connect_timeout": 0.5},
        credentials_ref="db_creds",
    )
    started = asyncio.get_running_loop().time()
    run = await gateway.execute_workflow(
        "query",
        WorkflowRequest(parameters={"n": 1}, resources={"db": reference}, principal="tenant"),
    )
    elapsed = asyncio.get_running_loop().time() - started
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    # A caller's inline reference names a host of its choice: however it fails to answer,
    # the caller reads one text (no port scanning through the gateway).
    assert f"Resource 'db' (database): {UNREACHABLE}" in run.error
    assert elapsed < 10  # generous: "no hang", not a timing claim
    # In-process, the reference is the operator's own, and the operator is told why.
    own = await gateway.execute_workflow(
        "query", WorkflowRequest(parameters={"n": 1}, resources={"db": reference})
    )
    assert own.error is not None
    assert f"127.0.0.1:{silent_port} did not answer within connect_timeout=0.5s" in own.error


async def test_runs_after_the_server_drops_every_connection_reconnect(
    gateway: Application,
) -> None:
    """The client's view of a PostgreSQL restart: every pooled connection is terminated."""
    app_name = "lockgate-test-" + secrets.token_hex(4)
    reference = database(app_name, min_size=MAX_SIZE)

    async def run(n: int) -> RunStatus:
        response = await gateway.execute_workflow(
            "query", WorkflowRequest(parameters={"n": n}, resources={"db": reference})
        )
        return response.status

    assert await run(1) is RunStatus.COMPLETED
    admin = await asyncpg.connect(PG_DSN)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1",
            app_name,
        )
    finally:
        await admin.close()
    assert killed == MAX_SIZE
    # Each dropped connection fails at most the one run that finds it dead, then the pool
    # reconnects; later runs all succeed.
    statuses = [await run(n) for n in range(2 * MAX_SIZE)]
    assert statuses[-MAX_SIZE:] == [RunStatus.COMPLETED] * MAX_SIZE
    assert statuses.count(RunStatus.FAILED) <= MAX_SIZE


async def test_the_seeds_error_handling_sees_resource_errors_as_value_errors(
    gateway: Application,
) -> None:
    """The seed's caller: ``except ValueError as e: if "Resource" in str(e)``."""
    caught: list[str] = []
    request = WorkflowRequest(parameters={"n": 1}, resources={"db": "@missing"})
    try:
        await gateway.execute_workflow("query", request)
    except ValueError as e:
        if "Resource" in str(e):
            caught.append(str(e))
        else:
            raise
    assert caught == [
        "Resource 'db' refers to '@missing', which is not registered (shared resources: none)"
    ]
    assert gateway.secret_manager is not None
    await gateway.secret_manager.store_secret("api_key", {"api_key": "sk-1"}, encrypt=True)


class DatabasePoolFactory:
    """The seed's operator-side factory: makes the pool a shared resource stands for."""

    def __init__(self, *, dsn: str, min_size: int, max_size: int) -> None:
        self.dsn, self.min_size, self.max_size = dsn, min_size, max_size

    async def create(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(self.dsn, min_size=self.min_size, max_size=self.max_size)


async def test_the_seeds_registry_with_a_factory_health_check_and_a_batch() -> None:
    async def database_health_check(pool: asyncpg.Pool) -> bool:
        try:
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            return True
        except Exception:
            return False

    registry = ResourceRegistry()
    registry.register_factory(
        "shared_db",
        DatabasePoolFactory(dsn=PG_DSN, min_size=1, max_size=3),
        health_check=database_health_check,
    )
    gateway = build(Settings(run_store="memory://"), resource_registry=registry)
    gateway.register_workflow(
        "item",
        AsyncWorkflowBuilder("item")
        .add_async_code(
            "run",
            """
db = await get_resource("db")
result = {"item": await db.fetchval("SELECT $1::text", item)}
""",
        )
        .build(),
    )

    async def run_batch(gateway: Application, workflow_id: str, items: list[str]) -> int:
        tasks = []
        for item in items:
            request = WorkflowRequest(parameters={"item": item}, resources={"db": "@shared_db"})
            tasks.append(gateway.execute_workflow(workflow_id, request))
        results = await asyncio.gather(*tasks)
        return sum(1 for r in results if r.status == "completed")

    async with gateway:
        assert await run_batch(gateway, "item", [f"i{n}" for n in range(50)]) == 50
        health = await gateway.health_check()
    assert health["status"] == "healthy"
    assert health["resources"]["shared_db"]["status"] == "healthy"
