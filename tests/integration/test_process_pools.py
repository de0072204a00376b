"""The pool machinery with real worker processes, wired by the composition root and driven
in-process: configuration changes, the Janitor, the Scheduler, shutdown, embedding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lockgate.bootstrap import Application, build
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.models.function import FunctionEntity, ScalingConfig
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.routing import Route
from tests.e2e.gateway_process import alive
from tests.support import eventually

APP_DIR = Path(__file__).parents[1] / "e2e" / "app"


def pid_function(**changes: object) -> FunctionEntity:
    values: dict[str, object] = {
        "name": "pid",
        "handler": "handlers:pid",
        "code_dir": APP_DIR,
        "timeout_seconds": 30,
        "scaling": ScalingConfig(max_capacity=2),
    }
    values.update(changes)
    return FunctionEntity(**values)  # type: ignore[arg-type]


@pytest.fixture
async def application() -> AsyncIterator[Application]:
    app = build(
        Settings(janitor_interval=0.05, shutdown_grace=1),
        GatewayConfig(functions={"pid": pid_function()}, routes=(Route("GET", "/pid", "pid"),)),
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def invoke_pid(app: Application) -> int:
    result = await app.invoker.invoke_function("pid", b"{}")
    assert result.success, result
    pid: int = json.loads(result.payload or b"")["pid"]
    return pid


async def test_a_warm_worker_is_reused(application: Application) -> None:
    assert await invoke_pid(application) == await invoke_pid(application)


async def test_a_changed_configuration_drains_and_replaces_the_pool(
    application: Application,
) -> None:
    old_pid = await invoke_pid(application)
    application.register_function(pid_function(environment={"RELEASE": "2"}))
    new_pid = await invoke_pid(application)
    assert new_pid != old_pid
    await eventually(lambda: not alive(old_pid))
    assert len(application.pool_manager.pools()) == 1


async def test_the_janitor_reaps_a_worker_idle_past_its_ttl(application: Application) -> None:
    application.register_function(pid_function(scaling=ScalingConfig(idle_ttl=0.2)))
    worker_pid = await invoke_pid(application)
    await eventually(lambda: not alive(worker_pid))
    assert application.health()["functions"]["pid"]["warm"] == 0
    assert await invoke_pid(application) != worker_pid  # a new one starts on demand


async def test_the_scheduler_keeps_min_warm_workers_up(application: Application) -> None:
    application.register_function(pid_function(scaling=ScalingConfig(min_warm=2)))
    await eventually(lambda: application.health()["functions"]["pid"]["warm"] == 2)
    assert application.ready()


async def test_stop_leaves_no_worker_process() -> None:
    app = build(Settings(), GatewayConfig(functions={"pid": pid_function()}))
    await app.start()
    first, second = await asyncio.gather(
        app.invoker.invoke_function("pid", b"{}"),
        app.invoker.invoke_function("pid", b"{}"),
    )
    pids = {json.loads(r.payload or b"")["pid"] for r in (first, second)}
    await app.stop()
    assert pids
    assert not [pid for pid in pids if alive(pid)]


async def test_a_gateway_declared_in_python_serves_over_asgi(application: Application) -> None:
    transport = httpx.ASGITransport(app=create_app(application))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/pid")
        assert response.status_code == 200
        assert alive(response.json()["pid"])
        assert float(response.headers["x-lockgate-latency"]) >= 0
