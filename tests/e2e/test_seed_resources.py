"""The seed's resource workflows, served from ``examples/resources`` by a real ``lockgate
serve``, against this machine's PostgreSQL and Redis, with the database credentials stored
encrypted by ``lockgate secrets set`` — the steps of ``examples/resources/README.md``, run
as a user would.

Also checks what must never happen: the secret's plaintext in the database file, the
gateway's log or any response.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from examples.resources.seed_data import create_users

from lockgate.client import Client
from tests.e2e.gateway_process import GatewayProcess

EXAMPLE = Path(__file__).parents[2] / "examples" / "resources"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "pw-" + secrets.token_hex(12)
REDIS_KEYS = ("user:1", "user:2", "user:3", "users:latest", "orders:latest")


def lockgate(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lockgate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


class Served:
    def __init__(self, gateway: GatewayProcess, workdir: Path) -> None:
        self.gateway = gateway
        self.workdir = workdir


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("seed-resources")
    env = {
        "LOCKGATE_RUN_STORE": f"sqlite:///{workdir}/runs.sqlite3",
        "LOCKGATE_MASTER_KEY_FILE": str(workdir / "master.key"),
    }
    lockgate(env, "secrets", "init-key", "--key-file", str(workdir / "master.key"))
    credentials = json.dumps({"user": "postgres", "password": PASSWORD})
    config = str(EXAMPLE / "lockgate.toml")
    lockgate(env, "secrets", "set", "db_creds", "--json", "--config", config, stdin=credentials)
    asyncio.run(create_users(PG_DSN))
    with GatewayProcess(EXAMPLE / "lockgate.toml", env=env) as gateway:
        yield Served(gateway, workdir)
    cache = redis.Redis(host="127.0.0.1", port=6379)
    cache.delete(*REDIS_KEYS)
    cache.close()


async def test_the_etl_pipeline_moves_users_from_postgresql_into_redis(served: Served) -> None:
    async with Client(served.gateway.url) as client:
        result = await client.execute_workflow(
            "data_pipeline",
            resources={
                "source_db": client.ref("main_db"),
                "result_cache": client.ref("redis_cache"),
            },
        )
    assert result.is_success, result.error
    assert result.result["load"] == {"loaded": 3}
    cache = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    try:
        assert json.loads(cache.get("user:1") or "null") == {"id": 1, "name": "ANN", "active": True}
        assert 0 < cache.ttl("user:1") <= 3600
    finally:
        cache.close()


async def test_inline_references_built_by_the_client_helpers_work_too(served: Served) -> None:
    async with Client(served.gateway.url) as client:
        result = await client.execute_workflow(
            "data_pipeline",
            resources={
                "source_db": client.database(
                    host="127.0.0.1",
                    port=5432,
                    database="test",
                    credentials_ref="db_creds",
                    server_settings={"search_path": "lockgate_example"},
                ),
                "result_cache": client.cache(host="127.0.0.1", port=6379, db=0),
            },
        )
    assert result.is_success, result.error
    assert result.result["transform"]["transformed"][1] == {"id": 2, "name": "BOB", "active": False}


async def test_the_multi_resource_step_uses_postgresql_http_and_redis_at_once(
    served: Served,
) -> None:
    async with Client(served.gateway.url) as client:
        result = await client.execute_workflow(
            "api_aggregator",
            resources={
                "user_db": client.ref("main_db"),
                # The example's own /orders route, on whatever port this test serves it.
                "order_api": client.http_client(base_url=served.gateway.url, timeout=10),
                "cache": client.ref("redis_cache"),
            },
        )
    assert result.is_success, result.error
    assert result.result["fetch_data"] == {"user_count": 3, "order_count": 100}


async def test_the_cached_pipeline_computes_once_then_hits_the_cache(served: Served) -> None:
    key = "k" + secrets.token_hex(6)
    async with Client(served.gateway.url) as client:
        runs = [
            await client.execute_workflow(
                "cached_pipeline",
                parameters={"input_key": key},
                resources={"cache": client.ref("redis_cache")},
            )
            for _ in range(2)
        ]
    redis.Redis(host="127.0.0.1", port=6379).delete(f"pipeline:{key}")
    assert [run.result["check_cache"]["cache_hit"] for run in runs] == [False, True]
    assert runs[0].result["process"] == runs[1].result["process"]


async def test_a_missing_required_resource_fails_the_run_before_any_step(served: Served) -> None:
    async with Client(served.gateway.url) as client:
        result = await client.execute_workflow(
            "data_pipeline", resources={"source_db": client.ref("main_db")}
        )
    assert result.status == "failed"
    assert result.error is not None
    assert "result_cache" in result.error
    assert all(step.status == "pending" for step in result.steps.values())


async def test_health_reports_every_shared_resource(served: Served) -> None:
    async with Client(served.gateway.url) as client:
        await client.execute_workflow(
            "cached_pipeline",
            parameters={"input_key": "health"},
            resources={"cache": client.ref("redis_cache")},
        )
    async with httpx.AsyncClient(timeout=30) as http:
        health = (await http.get(f"{served.gateway.url}/health")).json()
    resources = health["resources"]
    assert resources["main_db"]["status"] == "healthy"
    assert resources["redis_cache"]["status"] == "healthy"
    # The example points orders_api at port 8001, which this test does not serve.
    assert resources["orders_api"]["status"] == "unhealthy"
    assert health["status"] == "degraded"
    assert health["secrets"] == {"backend": "database"}


def test_the_password_is_nowhere_in_plaintext(served: Served) -> None:
    """After the runs above: not in the database files, not in the gateway's output."""
    for path in served.workdir.iterdir():
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path.name
    assert PASSWORD.encode() not in served.gateway.read_output()


def test_serving_without_the_master_key_fails_closed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKGATE_MASTER_KEY")}
    env["LOCKGATE_RUN_STORE"] = f"sqlite:///{tmp_path}/runs.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "lockgate", "serve", "--config", str(EXAMPLE / "lockgate.toml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "init-key" in done.stderr
    assert "Traceback" not in done.stderr
