"""Seed 002, "Enhanced Gateway Integration Developer Guide", block by block.

Each block runs as the seed wrote it with its imports naming Lockgate (``lockgate_text``),
in a namespace holding what the seed's earlier blocks made (the seed reads as one session:
002#6 runs the workflow 002#5 registered on the gateway 002#2 made). Where a block connects,
it is pointed at this machine's PostgreSQL (database ``test``, a fresh schema holding the
seed's ``users`` table) and Redis (database 13); the seed's own mistakes are put right by
visible ``Fix``es. Blocks that only declare something (a workflow, a test function) are
then executed by the test, checking what the seed's prose promises.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from redis.asyncio import Redis

from lockgate import AsyncWorkflowBuilder, ResourceReference, WorkflowRequest
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.controllers.server_options import server_config
from lockgate.embedded import EnhancedDurableAPIGateway
from lockgate.errors import ConfigError, ResourceConfigError, ResourceNotFoundError
from lockgate.use_cases.secrets.master_key import generate_master_key
from tests.seeds.support import Environment, Fix, block, blocks, changed, lockgate_text, run

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DB = 13

OUTCOMES = {
    1: "text",
    2: "runs",
    3: "runs",
    4: "runs",
    5: "runs",
    6: "runs",
    7: "runs",
    8: "runs",
    9: "fixed",  # passes db/cache to a workflow that requires source_db/result_cache
    10: "fixed",  # registry, config undefined; DatabasePoolFactory not imported
    11: "runs",
    12: "runs",
    13: "fixed",  # WorkflowNotFoundError not imported
    14: "fixed",  # secret_manager unbound
    15: "fixed",  # risky_workflow never registered
    16: "runs",
    17: "runs",  # executing its workflow needs the seed's omissions fixed
    18: "runs",
    19: "fixed",  # patch not imported, mock_ref undefined, acquire an AsyncMock
    20: "runs",
    21: "runs",
    22: "runs",
    23: "fragment",
    24: "fragment",
    25: "fragment",
    26: "illustration",
    27: "runs",
    28: "text",
    29: "text",
    30: "text",
    31: "text",
    32: "fixed",  # "pipeline" never registered on the fresh gateway
}


def test_every_block_of_the_seed_is_accounted_for() -> None:
    assert {b.n for b in blocks() if b.seed == "002"} == set(OUTCOMES)


def text(n: int, *changes: Fix | Environment) -> str:
    return changed(lockgate_text(block("002", n).text), *changes)


async def carry_imports(namespace: dict[str, Any], *numbers: int) -> None:
    """What earlier blocks imported (002#7 uses the ``WorkflowRequest`` 002#6 imports)."""
    for n in numbers:
        lines = text(n).splitlines()
        imports = [line for line in lines if line.startswith(("from ", "import "))]
        await run("\n".join(imports), namespace, f"imports of {block('002', n).label}")


# -- where the seed connects: this machine --------------------------------------------------


@pytest.fixture
async def users_schema() -> AsyncIterator[str]:
    """A fresh schema in database ``test`` holding the seed's ``users`` table."""
    schema = f"seed_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(PG_DSN)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        await connection.execute(
            f'CREATE TABLE "{schema}".users (id int PRIMARY KEY, name text, status text)'
        )
        await connection.execute(
            f'INSERT INTO "{schema}".users VALUES '
            "(1, 'ann', 'active'), (2, 'bo', 'active'), (3, 'cy', 'inactive')"
        )
        yield schema
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=6379, db=REDIS_DB, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def database(name: str, schema: str) -> Environment:
    """The seed's database ``name``: ``test`` here, in the schema holding its tables."""
    return Environment(
        f'"database": "{name}"',
        f'"database": "test", "server_settings": {{"search_path": "{schema}"}}',
    )


# -- the session: a gateway made by the seed's own 002#2, carried from block to block -------


@pytest.fixture
def gateways(monkeypatch: pytest.MonkeyPatch) -> list[EnhancedDurableAPIGateway]:
    """Every gateway a block makes (the seed never closes one): closed after the test."""
    made: list[EnhancedDurableAPIGateway] = []
    original = EnhancedDurableAPIGateway.__init__

    def recording(self: EnhancedDurableAPIGateway, **kwargs: Any) -> None:
        original(self, **kwargs)
        made.append(self)

    monkeypatch.setattr(EnhancedDurableAPIGateway, "__init__", recording)
    return made


@pytest.fixture
async def seed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gateways: list[EnhancedDurableAPIGateway],
) -> AsyncIterator[dict[str, Any]]:
    """A namespace holding what blocks 2-5 make: the gateway, references, stored secrets,
    the registered ``data_pipeline``. Run from a fresh folder (the gateway's SQLite run
    store goes beside the program) with a master key in the environment."""
    for name in [n for n in __import__("os").environ if n.startswith("LOCKGATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOCKGATE_MASTER_KEY", generate_master_key())
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "seed_002"}
    try:
        for n in (2, 3):
            await run(text(n), namespace, block("002", n).label)
        # This machine has no role "dbuser"; the seed's secret names one that exists here.
        await run(text(4, Environment('"user": "dbuser"', '"user": "postgres"')), namespace)
        await run(text(5), namespace, block("002", 5).label)
        yield namespace
    finally:
        for gateway in gateways:
            await gateway.aclose()


async def test_002_2_the_gateway_is_made_as_the_seed_makes_it(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    gateway = seed["gateway"]
    assert isinstance(gateway, EnhancedDurableAPIGateway)
    started_before = gateway.started  # the seed never starts it: its first use does
    assert not started_before
    assert gateway.title == "Production Gateway"
    assert gateway.description == "Enterprise workflow orchestration"
    # enable_durability=True: runs go to the SQLite run store beside the program.
    assert gateway.settings.run_store is None
    health = await gateway.health_check()
    assert gateway.started
    assert health["gateway"] == {
        "title": "Production Gateway",
        "description": "Enterprise workflow orchestration",
    }
    assert (tmp_path / ".lockgate" / "runs.sqlite3").is_file()


async def test_002_2_the_title_reaches_the_openapi_document(seed: dict[str, Any]) -> None:
    app = create_app(seed["gateway"].application)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        info = (await client.get("/_lockgate/openapi.json")).json()["info"]
    assert info["title"] == "Production Gateway"
    assert info["description"] == "Enterprise workflow orchestration"


async def test_002_2_without_arguments_and_without_durability(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    gateway = seed["EnhancedDurableAPIGateway"]()
    assert gateway.settings.run_store is None  # durable: the SQLite file
    memory = seed["EnhancedDurableAPIGateway"](enable_durability=False)
    assert memory.settings.run_store == "memory://"
    async with memory:  # with `async with` too; and the first use starts nothing twice
        await asyncio.gather(memory.start(), memory.health_check())
        assert memory.started
    assert not memory.started
    with pytest.raises(ConfigError, match="enable_durability=True"):
        seed["EnhancedDurableAPIGateway"](
            enable_durability=True, settings=Settings(run_store="memory://")
        )


async def test_002_3_references_are_accepted_in_process_and_refused_over_http_by_default(
    seed: dict[str, Any],
) -> None:
    resources = seed["gateway"].resource_registry
    references = {"db": seed["db_ref"], "http": seed["http_ref"], "cache": seed["cache_ref"]}
    checked = resources.checked_request(references, trusted=True)
    assert checked["db"] == {
        "type": "database",
        "config": {"host": "localhost", "port": 5432, "database": "production"},
        "credentials_ref": "db_creds",
    }
    # A caller over HTTP gets the security defaults: no inline references at all.
    with pytest.raises(ResourceConfigError, match="inline references are off"):
        resources.checked_request(references, principal="tenant-a")


async def test_002_4_secrets_are_stored_encrypted_before_the_gateway_starts(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    gateway = seed["gateway"]
    assert not gateway.started
    names = [s.name for s in await gateway.secret_manager.list_secrets()]
    assert names == ["api_key", "db_creds"]
    assert (await gateway.secret_manager.get_secret("api_key")).reveal() == {
        "api_key": "sk-1234567890"
    }
    stored = b"".join(p.read_bytes() for p in (tmp_path / ".lockgate").iterdir())
    assert b"sk-1234567890" not in stored
    assert b"secure_password" not in stored


async def test_002_5_and_6_the_pipeline_runs_against_postgresql_and_redis(
    seed: dict[str, Any],
    users_schema: str,
    redis: Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    block_6 = text(
        6,
        Environment('"host": "db.example.com"', '"host": "127.0.0.1"'),
        database("users", users_schema),
        Environment('"host": "cache.example.com",', f'"host": "127.0.0.1", "db": {REDIS_DB},'),
    )
    try:
        await run(block_6, seed, block("002", 6).label)
        assert capsys.readouterr().out == "Loaded 3 users\n"
        response = seed["response"]
        assert response.result["transform"]["transformed"][0] == {
            "id": 1,
            "name": "ANN",
            "active": True,
        }
        assert json.loads(await redis.get("user:3") or "{}")["active"] is False
        assert 0 < await redis.ttl("user:3") <= 3600
    finally:
        await redis.delete("user:1", "user:2", "user:3")


async def test_002_7_shared_db_is_the_same_callers_earlier_inline_pool(
    seed: dict[str, Any], users_schema: str
) -> None:
    await carry_imports(seed, 6)
    await run(text(7, database("app", users_schema)), seed, block("002", 7).label)
    gateway = seed["gateway"]
    gateway.register_workflow(
        "count_users",
        AsyncWorkflowBuilder("count_users")
        .add_async_code(
            "count",
            'db = await get_resource("shared_db")\n'
            'result = {"users": await db.fetchval("SELECT count(*) FROM users")}',
        )
        .build(),
    )
    first = await gateway.execute_workflow("count_users", seed["request1"])
    second = await gateway.execute_workflow("count_users", seed["request2"])
    assert first.result == second.result == {"count": {"users": 3}}
    # "Subsequent workflows reuse the same pool": request2 recorded request1's reference.
    run_record = await gateway.get_run(second.run_id)
    assert run_record.status == "completed"
    assert (await gateway.health_check())["inline_resources"] == {
        "database": {"pools": 1, "runs": 0}
    }


async def test_002_7_another_caller_never_finds_the_name(
    seed: dict[str, Any], users_schema: str
) -> None:
    await carry_imports(seed, 6)
    await run(text(7, database("app", users_schema)), seed, block("002", 7).label)
    resources = seed["gateway"].resource_registry
    resources.checked_request(seed["request1"].resources, trusted=True)  # the operator's
    for caller in ("tenant-a", "anonymous"):
        with pytest.raises(ResourceNotFoundError) as refused:
            resources.checked_request(seed["request2"].resources, principal=caller)
        assert refused.value.message == (
            "Resource 'shared_db' refers to '@shared_db', which is not registered "
            "(shared resources: none)"
        )


async def test_002_7_over_http_each_caller_finds_only_its_own_names(
    seed: dict[str, Any],
) -> None:
    gateway = seed["EnhancedDurableAPIGateway"](
        settings=Settings(
            run_store="memory://", allow_inline_resources=True, inline_allowed_hosts=["127.0.0.1"]
        )
    )
    resources = gateway.resource_registry
    mine = {"type": "cache", "config": {"backend": "memory", "namespace": "a"}}
    resources.checked_request({"shared_db": mine}, principal="tenant-a")
    found = resources.checked_request({"db": "@shared_db"}, principal="tenant-a")
    assert found == {"db": mine}  # the reference itself is recorded: a resume needs nothing
    for other in ("tenant-b", "anonymous"):
        with pytest.raises(ResourceNotFoundError, match=r"\(shared resources: none\)$"):
            resources.checked_request({"db": "@shared_db"}, principal=other)
    # Anonymous callers cannot be told apart: nothing they declare is remembered.
    resources.checked_request({"anon_db": mine}, principal="anonymous")
    with pytest.raises(ResourceNotFoundError):
        resources.checked_request({"db": "@anon_db"}, principal="anonymous")
    # The operator's shared name wins over a caller's own.
    resources.register_reference("shared_db", ResourceReference("cache", {"backend": "memory"}))
    assert resources.checked_request({"db": "@shared_db"}, principal="tenant-a") == {
        "db": "@shared_db"
    }
    # Equal references from the operator and from a caller never share an instance.
    reference = {"c": mine}
    assert resources.entry_for("c", reference, trusted=True) is not resources.entry_for(
        "c", reference, trusted=False
    )


class OrdersServer:
    """A loopback HTTP server answering ``GET /orders`` with three orders."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @staticmethod
    async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        body = json.dumps([{"id": 1}, {"id": 2}, {"id": 3}]).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


async def test_002_8_one_step_uses_a_database_an_api_and_a_cache_at_once(
    seed: dict[str, Any], users_schema: str, redis: Redis
) -> None:
    await run(text(8), seed, block("002", 8).label)
    gateway = seed["gateway"]
    gateway.register_workflow("api_aggregator", seed["workflow"])
    async with OrdersServer() as orders_url:
        response = await gateway.execute_workflow(
            "api_aggregator",
            WorkflowRequest(
                resources={
                    "user_db": ResourceReference(
                        "database",
                        {"database": "test", "server_settings": {"search_path": users_schema}},
                    ),
                    "order_api": ResourceReference("http_client", {"base_url": orders_url}),
                    "cache": ResourceReference("cache", {"port": 6379, "db": REDIS_DB}),
                }
            ),
        )
    try:
        assert response.result == {"fetch_data": {"user_count": 3, "order_count": 3}}, response
        assert json.loads(await redis.get("users:latest") or "[]")[0] == {"id": 1, "name": "ann"}
    finally:
        await redis.delete("users:latest", "orders:latest")


async def served(gateway: EnhancedDurableAPIGateway) -> tuple[str, asyncio.Task[None], Any]:
    """``gateway`` served over HTTP on a free loopback port (its lifespan starts it)."""
    config = server_config(
        create_app(gateway.application), limits=None, host="127.0.0.1", port=0, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers nothing to wait on)
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", task, server


async def test_002_9_the_client_runs_the_pipeline_over_http(
    seed: dict[str, Any],
    users_schema: str,
    redis: Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Over HTTP a caller chose where an inline reference connects: the operator allows it
    # for this machine and this secret (by default the HTTP surface takes none).
    gateway = seed["EnhancedDurableAPIGateway"](
        settings=Settings(
            allow_inline_resources=True,
            inline_allowed_hosts=["127.0.0.1", "::1"],
            inline_credentials=["db_creds"],
        )
    )
    gateway.register_workflow(
        "data_pipeline", seed["workflow"], required_resources=["source_db", "result_cache"]
    )
    url, task, server = await served(gateway)
    block_9 = text(
        9,
        Environment('"http://gateway.example.com"', f'"{url}"'),
        Environment(
            'database="myapp",',
            f'database="test", server_settings={{"search_path": "{users_schema}"}},',
        ),
        Environment("port=6379\n", f"port=6379, db={REDIS_DB}\n"),
        Fix(
            '"db": db_resource,\n            "cache": cache_resource',
            '"source_db": db_resource,\n            "result_cache": cache_resource',
            "data_pipeline requires source_db and result_cache (002#5), not db and cache",
        ),
    )
    try:
        await run(block_9, seed, block("002", 9).label)
        assert capsys.readouterr().out.startswith("Processed: {'extract': {'users': [")
        assert seed["result"].result["load"] == {"loaded": 3}
    finally:
        server.should_exit = True
        await task
        await redis.delete("user:1", "user:2", "user:3")


async def test_002_10_a_database_pool_factory_with_a_health_check(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # The seed's placeholders: the registry and the factory's config.
    seed["registry"] = seed["gateway"].resource_registry
    seed["config"] = {"host": "127.0.0.1", "database": "test", "user": "postgres", "max_size": 2}
    block_10 = text(
        10,
        Fix(
            "# Define health check for custom resource",
            "from lockgate import DatabasePoolFactory\n# Define health check for custom resource",
            "DatabasePoolFactory is used but never imported",
        ),
    )
    await run(block_10, seed, block("002", 10).label)
    assert capsys.readouterr().out == (
        "Gateway status: healthy\n"
        "Resources: {'main_db': {'status': 'healthy', 'type': 'factory', 'in_use': 0}}\n"
    )


def test_002_10_the_factory_keeps_the_password_out_of_sight() -> None:
    from lockgate import DatabasePoolFactory  # noqa: PLC0415

    factory = DatabasePoolFactory(
        host="127.0.0.1", database="app", user="app", password="s3cret-password", min_size=5
    )
    assert "s3cret-password" not in repr(factory)
    assert "password=***" in repr(factory)
    assert factory.get_config() == {
        "backend": "postgresql",
        "host": "127.0.0.1",
        "port": 5432,
        "database": "app",
        "min_size": 5,
        "max_size": 10,
        "user": "app",
    }
    with pytest.raises(ResourceConfigError, match="backend must be postgresql or sqlite"):
        DatabasePoolFactory(backend="mysql", database="app")
    with pytest.raises(ResourceConfigError, match="min_size"):
        DatabasePoolFactory(database="app", min_size=20, max_size=10)


async def test_002_10_a_sqlite_pool_from_the_factory(tmp_path: Path) -> None:
    from lockgate import DatabasePoolFactory  # noqa: PLC0415

    pool = await DatabasePoolFactory(backend="sqlite", database=str(tmp_path / "app.db")).create()
    try:
        assert await pool.fetchval("SELECT 41 + 1") == 42
    finally:
        await pool.close()


MY_QUEUE = """
class QueueClient:
    made = []

    def __init__(self, broker, credentials):
        self.broker, self.credentials, self.sent = broker, credentials, []
        QueueClient.made.append(self)

    async def send(self, message):
        self.sent.append(message)
"""

SEND = 'mq = await get_resource("queue")\nawait mq.send(message)\nresult = {"sent": len(mq.sent)}'


async def test_002_11_a_custom_resolver_adds_a_type(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_queue.py").write_text(MY_QUEUE, encoding="utf-8")  # the user's own module
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_queue", raising=False)
    await run(text(11), seed, block("002", 11).label)
    gateway = seed["gateway"]
    resolver = seed["CustomResourceResolver"](gateway.resource_registry, gateway.secret_manager)
    gateway.use_resolver(resolver)
    assert gateway._resource_resolver is resolver
    gateway.register_workflow(
        "notify", AsyncWorkflowBuilder("notify").add_async_code("send", SEND).build()
    )
    queue = ResourceReference("message_queue", {"broker": "memory://", "queue_name": "jobs"})
    for message in ("one", "two"):
        response = await gateway.execute_workflow(
            "notify", WorkflowRequest(parameters={"message": message}, resources={"queue": queue})
        )
        assert response.status == "completed", response.error
    assert response.result == {"send": {"sent": 2}}  # one client, pooled
    assert "mq_jobs" in gateway.resource_registry.shared_names()
    made = sys.modules["my_queue"].QueueClient.made
    assert [(c.broker, c.credentials) for c in made] == [("memory://", None)]


async def test_002_11_a_custom_type_is_never_a_callers_inline_reference(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_queue.py").write_text(MY_QUEUE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    await run(text(11), seed, block("002", 11).label)
    gateway = seed["EnhancedDurableAPIGateway"](
        settings=Settings(run_store="memory://", allow_inline_resources=True),
        resource_resolver=seed["CustomResourceResolver"],
    )
    queue = {"type": "message_queue", "config": {"broker": "memory://", "queue_name": "x"}}
    with pytest.raises(ResourceConfigError, match="cannot be passed inline"):
        gateway.resource_registry.checked_request({"queue": queue}, principal="tenant-a")
    assert gateway.resource_registry.checked_request({"queue": queue}, trusted=True)


async def test_002_12_a_step_reads_its_context(seed: dict[str, Any]) -> None:
    await run(text(12), seed, block("002", 12).label)
    gateway = seed["gateway"]
    gateway.register_workflow("context_aware", seed["workflow"])
    response = await gateway.execute_workflow(
        "context_aware",
        WorkflowRequest(context={"user": "data_engineer", "environment": "production"}),
    )
    assert response.result == {"process": {"processed_by": "data_engineer", "cache_ttl": 3600}}


async def test_002_13_resource_resolution_errors(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seed["request"] = WorkflowRequest(resources={"db": "@missing"})  # the seed's `request`
    block_13 = text(
        13,
        Fix(
            "try:\n",
            "from lockgate import WorkflowNotFoundError\ntry:\n",
            "WorkflowNotFoundError is caught but never imported",
        ),
    )
    await run(block_13, seed, block("002", 13).label)
    seed["gateway"].register_workflow("pipeline", seed["workflow"])
    await run(block_13, seed, block("002", 13).label)
    assert capsys.readouterr().out == (
        "Workflow not registered\n"
        "Resource error: Resource 'db' refers to '@missing', which is not registered "
        "(shared resources: none)\n"
    )


async def test_002_14_secret_resolution_errors(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seed["secret_manager"] = seed["gateway"].secret_manager  # bound only later, by 002#17
    await run(text(14), seed, block("002", 14).label)
    assert capsys.readouterr().out == "Secret not found, using defaults\n"


RISKY = (
    AsyncWorkflowBuilder("risky_workflow")
    .add_async_code("first", 'result = {"ok": True}')
    .add_async_code("second", 'raise RuntimeError("boom")\nresult = ok')
    .add_connection("first", "ok", "second", "ok")
    .build()
)


async def test_002_15_a_failed_run_keeps_its_completed_steps(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seed["gateway"].register_workflow("risky_workflow", RISKY)  # the seed never defines it
    seed["request"] = WorkflowRequest()
    await run(text(15), seed, block("002", 15).label)
    assert capsys.readouterr().out == (
        "Workflow failed: step 'second' failed: RuntimeError: boom\nCompleted steps: ['first']\n"
    )


async def test_002_16_pool_settings_are_accepted(seed: dict[str, Any]) -> None:
    await run(text(16), seed, block("002", 16).label)
    resources = seed["gateway"].resource_registry
    checked = resources.checked_request(
        {"db": seed["db_ref"], "http": seed["http_ref"]}, trusted=True
    )
    assert checked["db"]["config"]["max_inactive_connection_lifetime"] == 300
    assert checked["http"]["config"]["connection_limit_per_host"] == 30


async def test_002_17_a_secret_manager_with_defaults_and_the_cached_pipeline(
    seed: dict[str, Any],
) -> None:
    await run(text(17), seed, block("002", 17).label)
    manager = seed["secret_manager"]
    assert repr(manager) == "SecretManager(not opened yet)"
    # It finds the store (the run store's SQLite file) and the key at first use.
    assert (await manager.get_secret("db_creds")).reveal()["user"] == "postgres"
    await manager.aclose()

    # Running the seed's workflow needs what the seed leaves out.
    block_17 = text(
        17,
        Fix(
            '""", required_resources=["cache"])\n    .build()',
            '""", required_resources=["cache"])\n'
            '    .add_connection("check_cache", "cache_hit", "process", "cache_hit")\n'
            '    .add_connection("check_cache", "data", "process", "data")\n'
            "    .build()",
            "process reads cache_hit and data, which are never connected to it",
        ),
        Fix(
            "    processed = expensive_operation(input_key)",
            "    processed = {'computed_for': input_key}  # the seed's expensive_operation\n"
            "    import json  # used below, never imported by the step",
            "expensive_operation is a placeholder, and json is not imported in this step",
        ),
    )
    await run(block_17, seed, block("002", 17).label)
    gateway = seed["gateway"]
    gateway.register_workflow("cached_pipeline", seed["workflow"])
    request = WorkflowRequest(
        parameters={"input_key": "k1"},
        resources={"cache": ResourceReference("cache", {"backend": "memory"})},
    )
    miss = await gateway.execute_workflow("cached_pipeline", request)
    hit = await gateway.execute_workflow("cached_pipeline", request)
    assert miss.result["process"] == {"processed": {"computed_for": "k1"}}, miss.error
    assert hit.result["check_cache"]["cache_hit"] is True
    assert hit.result["process"] == {"processed": {"computed_for": "k1"}}


async def test_002_17_a_secret_manager_fails_closed_without_a_key(
    seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lockgate.errors import MasterKeyError  # noqa: PLC0415
    from lockgate.use_cases.secrets import manager as strict  # noqa: PLC0415

    monkeypatch.delenv("LOCKGATE_MASTER_KEY")
    secret_manager = seed["SecretManager"](cache_ttl=300)
    with pytest.raises(MasterKeyError, match="create one with `lockgate secrets init-key`"):
        await secret_manager.store_secret("db_creds", {"password": "x"})
    # The use-case class stays strict: it takes a store and a key, and looks nothing up.
    with pytest.raises(TypeError, match="store"):
        strict.SecretManager()  # type: ignore[call-arg]
    # Without durability nothing persists: a key made for the process keeps them.
    memory = seed["SecretManager"](settings=Settings(run_store="memory://"))
    await memory.store_secret("token", {"api_key": "sk-memory-only"})
    assert (await memory.get_secret("token")).reveal() == {"api_key": "sk-memory-only"}


async def test_002_2_the_first_uses_start_the_gateway_once(
    seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = seed["gateway"]
    starts = []
    original = gateway.application.start

    async def counted() -> None:
        starts.append(1)
        await original()

    monkeypatch.setattr(gateway.application, "start", counted)
    gateway.register_workflow(
        "noop", AsyncWorkflowBuilder("noop").add_async_code("noop", "result = 1").build()
    )
    responses = await asyncio.gather(
        gateway.execute_workflow("noop"),
        gateway.execute_workflow("noop"),
        gateway.health_check(),
        gateway.list_runs(),
    )
    assert starts == [1]
    assert responses[0].status == responses[1].status == "completed"
    await gateway.aclose()
    assert not gateway.started
    assert (await gateway.get_run(responses[0].run_id)).status == "completed"  # restarted
    assert starts == [1, 1]


async def test_002_18_a_batch_on_an_operator_registered_shared_db(
    seed: dict[str, Any], users_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await carry_imports(seed, 6)
    await run(text(18), seed, block("002", 18).label)
    gateway = seed["gateway"]
    gateway.register_workflow("lookup", LOOKUP)
    gateway.resource_registry.register_reference(
        "shared_db",
        ResourceReference(
            "database", {"database": "test", "server_settings": {"search_path": users_schema}}
        ),
    )
    results = await seed["run_batch"](gateway, "lookup", [1, 2, 3])
    assert capsys.readouterr().out == "Processed 3/3 successfully\n"
    assert [r.result["find"]["name"] for r in results] == ["ann", "bo", "cy"]


async def test_002_18_a_batch_on_the_callers_own_earlier_inline_db(
    seed: dict[str, Any], users_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await carry_imports(seed, 6)
    await run(text(18), seed, block("002", 18).label)
    gateway = seed["gateway"]
    gateway.register_workflow("lookup", LOOKUP)
    own = ResourceReference(
        "database",
        {"database": "test", "server_settings": {"search_path": users_schema}},
        credentials_ref="db_creds",
    )
    first = await gateway.execute_workflow(
        "lookup", WorkflowRequest(parameters={"item": 1}, resources={"shared_db": own, "db": own})
    )
    assert first.status == "completed", first.error
    await seed["run_batch"](gateway, "lookup", [1, 2, 3])
    assert capsys.readouterr().out == "Processed 3/3 successfully\n"


LOOKUP = (
    AsyncWorkflowBuilder("lookup")
    .add_async_code(
        "find",
        'db = await get_resource("db")\n'
        'row = await db.fetchrow("SELECT name FROM users WHERE id = $1", item)\n'
        "result = dict(row)",
        required_resources=["db"],
    )
    .build()
)

READ_USERS = (
    AsyncWorkflowBuilder("test_pipeline")
    .add_async_code(
        "read",
        'db = await get_resource("db")\n'
        "async with db.acquire() as conn:\n"
        '    rows = await conn.fetch("SELECT id, name FROM users")\n'
        'result = {"users": [dict(r) for r in rows]}',
        required_resources=["db"],
    )
    .build()
)


async def test_002_19_the_seeds_unit_test_patches_the_resolver(seed: dict[str, Any]) -> None:
    seed["workflow"] = READ_USERS  # the seed's test runs "a workflow" it does not show
    seed["mock_ref"] = ResourceReference("database", {"database": "test"})  # never defined
    block_19 = text(
        19,
        Fix(
            "from unittest.mock import AsyncMock",
            "from unittest.mock import AsyncMock, MagicMock, patch",
            "patch is used but never imported",
        ),
        Fix(
            "    mock_db = AsyncMock()\n",
            "    mock_db = AsyncMock()\n"
            "    mock_db.acquire = MagicMock()  # as AsyncMock it gives a coroutine, not a pool's\n"
            "    # async context manager\n",
            "AsyncMock's acquire() is a coroutine; `async with db.acquire()` needs its result",
        ),
    )
    await carry_imports(seed, 6)
    await run(block_19, seed, block("002", 19).label)
    await seed["test_data_pipeline"]()  # its own assertion: the run completed on the mock


async def test_002_20_the_seeds_integration_test(seed: dict[str, Any]) -> None:
    await carry_imports(seed, 6, 19)  # WorkflowRequest, and 002#19's pytest
    await run(text(20), seed, block("002", 20).label)
    gateway = seed["gateway"]
    gateway.register_workflow(  # the seed's test runs "db_workflow", which it does not show
        "db_workflow",
        AsyncWorkflowBuilder("db_workflow")
        .add_async_code("ping", 'result = await (await get_resource("db")).fetchval("SELECT 1")')
        .build(),
    )
    await seed["test_real_database_workflow"](gateway, None)


async def test_002_21_and_22_names_and_credentials(seed: dict[str, Any]) -> None:
    await run(text(21), seed, block("002", 21).label)
    good, bad = evaluated(text(22), seed)
    resources = seed["gateway"].resource_registry
    assert good.credentials_ref == "db_creds"
    # Lockgate also wants the database named: a forgotten key must not mean "postgres".
    with pytest.raises(ResourceConfigError, match="database config needs 'database'"):
        resources.checked_request({"db": good}, trusted=True)
    with pytest.raises(ResourceConfigError, match="must not hold 'password'") as refused:
        resources.checked_request({"db": bad}, trusted=True)
    assert "password123" not in str(refused.value)


def evaluated(block_text: str, namespace: dict[str, Any]) -> list[Any]:
    """The values of a block's expression statements (002#22 writes two bare references)."""
    values = []
    for statement in ast.parse(block_text).body:
        assert isinstance(statement, ast.Expr)
        expression = compile(ast.Expression(statement.value), "<block>", "eval", dont_inherit=True)
        values.append(eval(expression, namespace))
    return values


def step_workflow(name: str, code: str, **options: Any) -> Any:
    return AsyncWorkflowBuilder(name).add_async_code("step", code, **options).build()


async def test_002_23_a_failing_resource_is_handled_in_the_step(seed: dict[str, Any]) -> None:
    gateway = seed["gateway"]

    async def broken() -> Any:
        raise OSError("connection refused")

    gateway.resource_registry.register_factory("broken_db", broken)
    gateway.register_workflow("guarded", step_workflow("guarded", text(23)))
    response = await gateway.execute_workflow(
        "guarded", WorkflowRequest(parameters={"query": "SELECT 1"}, resources={"db": "@broken_db"})
    )
    assert response.status == "completed", response.error  # `logger` is a step's own
    assert response.result["step"] == {
        "error": "Resource 'db' (factory): OSError: connection refused",
        "data": [],
    }


async def test_002_24_rows_a_step_returns_are_json_objects(
    seed: dict[str, Any], users_schema: str
) -> None:
    gateway = seed["gateway"]
    workflow = (
        AsyncWorkflowBuilder("rows")
        .add_async_code("fetch", text(24), required_resources=["db"])
        .add_async_code("names", "result = [row['name'] for row in rows]")
        .add_connection("fetch", "result", "names", "rows")
        .build()
    )
    gateway.register_workflow("rows", workflow)
    response = await gateway.execute_workflow(
        "rows",
        WorkflowRequest(
            parameters={"query": "SELECT id, name FROM users ORDER BY id"},
            resources={
                "db": ResourceReference(
                    "database",
                    {"database": "test", "server_settings": {"search_path": users_schema}},
                )
            },
        ),
    )
    assert response.result == {
        "fetch": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bo"}, {"id": 3, "name": "cy"}],
        "names": ["ann", "bo", "cy"],
    }, response.error


async def test_002_25_a_monitored_step(
    seed: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    block_25 = text(
        25,
        Fix(
            '.add_async_code("monitored_step"',
            'builder = AsyncWorkflowBuilder("monitored")\nbuilder.add_async_code("monitored_step"',
            "the excerpt is a chained call with nothing to chain on",
        ),
        Fix(
            "result = await process_data()",
            "async def process_data():  # the seed's placeholder\n"
            '    return {"data": [1, 2, 3]}\n'
            "result = await process_data()",
            "process_data is a placeholder",
        ),
    )
    await run(block_25, seed, block("002", 25).label)
    gateway = seed["gateway"]
    gateway.register_workflow("monitored", seed["builder"].build())
    with caplog.at_level(logging.INFO, logger="lockgate.workflows.monitored"):
        response = await gateway.execute_workflow("monitored")
    assert response.result["monitored_step"]["metrics"]["record_count"] == 3, response.error
    assert any(r.getMessage().startswith("Step completed in") for r in caplog.records)


async def test_002_26_the_migrations_after_half(seed: dict[str, Any]) -> None:
    before, after = text(26).split("# After: Enhanced Gateway")
    with pytest.raises(NameError, match="DurableAPIGateway"):  # Kailash's, not Lockgate's
        await run(before, dict(seed))
    seed["workflow"] = step_workflow(  # the "pipeline" the before half registered
        "pipeline",
        'db = await get_resource("db")\ncache = await get_resource("cache")\n'
        'await cache.set("answer", await db.fetchval("SELECT 42"))\n'
        'result = {"answer": await cache.get("answer")}',
    )
    after_half = changed(
        after,
        Fix(
            '        "db": ResourceReference(...),\n        "cache": ResourceReference(...)',
            '        "db": ResourceReference(type="database", config={"database": "test"}),\n'
            '        "cache": ResourceReference(type="cache", config={"backend": "memory"})',
            "... as arguments",
        ),
        Fix(
            "\n# Resources now passed",
            '\ngateway.register_workflow("pipeline", workflow)  # as before the migration\n'
            "# Resources now passed",
            "the after half runs a workflow only the before half registered",
        ),
    )
    await carry_imports(seed, 6)
    await run(after_half, seed, "002#26 after")
    assert seed["response"].result == {"step": {"answer": "42"}}, seed["response"].error


async def test_002_27_both_ways_build(seed: dict[str, Any]) -> None:
    await run(text(27), seed, block("002", 27).label)
    assert seed["workflow"].name == "new_way"


async def test_002_28_29_31_the_errors_the_seed_lists(seed: dict[str, Any]) -> None:
    gateway = seed["gateway"]
    with pytest.raises(ResourceNotFoundError, match="Resource 'db' refers to '@db', which is not"):
        await gateway.execute_workflow("data_pipeline", WorkflowRequest(resources={"db": "@db"}))
    # 002#29, "Secret 'api_key' not found": the step's error names the secret.
    await gateway.secret_manager.delete_secret("api_key")
    gateway.register_workflow(
        "call_api", step_workflow("call_api", 'api = await get_resource("api")\nresult = 1')
    )
    api = ResourceReference("http_client", {"base_url": "http://127.0.0.1:9"}, "api_key")
    failed = await gateway.execute_workflow("call_api", WorkflowRequest(resources={"api": api}))
    assert failed.error == (
        "step 'step' failed: SecretNotFoundError: Resource 'api' (http_client): its "
        "credentials_ref names secret 'api_key', which does not exist (lockgate secrets set)"
    )
    # 002#31, "Workflow execution timeout".
    slow = AsyncWorkflowBuilder("slow").add_async_code(
        "nap", "import asyncio\nawait asyncio.sleep(5)\nresult = None"
    )
    gateway.register_workflow("slow", slow.set_timeout(0.2).build())
    timed_out = await gateway.execute_workflow("slow")
    assert timed_out.error == "workflow 'slow' timed out after 0.2 s"
    for n in (28, 29, 30, 31):  # 002#30 is asyncpg's own message: nothing of Lockgate's
        assert block("002", n).lang == "none"


@pytest.fixture
def restored_loggers() -> Iterator[None]:
    names = ("lockgate.gateway", "lockgate.resources")
    levels = [logging.getLogger(n).level for n in names]
    yield
    for name, level in zip(names, levels, strict=True):
        logging.getLogger(name).setLevel(level)


async def test_002_32_debug_mode_logs_each_step_and_each_resource_without_secrets(
    seed: dict[str, Any],
    users_schema: str,
    caplog: pytest.LogCaptureFixture,
    restored_loggers: None,
) -> None:
    seed["workflow"] = (
        AsyncWorkflowBuilder("pipeline")
        .add_async_code(
            "extract",
            'db = await get_resource("db")\n'
            'result = {"users": await db.fetchval("SELECT count(*) FROM users"), "note": note}',
            required_resources=["db"],
        )
        .add_async_code("report", 'result = f"{users} users"')
        .add_connection("extract", "users", "report", "users")
        .build()
    )
    block_32 = text(
        32,
        Fix(
            "gateway = EnhancedDurableAPIGateway()\n",
            "gateway = EnhancedDurableAPIGateway()\n"
            'gateway.register_workflow("pipeline", workflow)  # a fresh gateway has none\n',
            "a fresh gateway has no workflow named pipeline",
        ),
    )
    caplog.set_level(logging.DEBUG, logger="lockgate")
    await run(block_32, seed, block("002", 32).label)
    gateway = seed["gateway"]
    assert gateway.workflows["pipeline"].metadata == {"debug": True}
    reference = ResourceReference(
        "database",
        {"database": "test", "server_settings": {"search_path": users_schema}},
        credentials_ref="db_creds",
    )
    response = await gateway.execute_workflow(
        "pipeline",
        # A parameter holding a secret's value: debug output must not show it either.
        WorkflowRequest(parameters={"note": "secure_password"}, resources={"db": reference}),
    )
    assert response.result["report"] == "3 users", response.error
    lines = {(r.name, r.getMessage()) for r in caplog.records if r.levelno == logging.DEBUG}
    run_id = response.run_id
    assert ("lockgate.gateway", f'run {run_id}: step \'extract\' inputs: {{"note":"***"}}') in lines
    assert (
        "lockgate.gateway",
        f'run {run_id}: step \'extract\' output: {{"users":3,"note":"***"}}',
    ) in lines
    assert ("lockgate.gateway", f"run {run_id}: step 'report' output: \"3 users\"") in lines
    assert ("lockgate.resources", "reading the credentials in secret 'db_creds'") in lines
    assert any(n == "lockgate.resources" and m.startswith("created a database") for n, m in lines)
    assert not any("secure_password" in m for _, m in lines)
