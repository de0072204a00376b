"""``/readyz`` through a real ``lockgate serve``, as a load balancer sees it: 503 while a
``min_warm`` function cannot start, while the run store is unreachable and while draining
after SIGTERM; 200 again once the cause is gone. ``/health`` (authenticated) says which
function and why; ``/readyz`` (open to anyone) only the kinds of reason."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_for
from tests.tcp_proxy import threaded_proxy

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"

FLAKY = """\
from pathlib import Path

print("flaky: loading its settings")
if not (Path(__file__).parent / "ready.flag").exists():
    raise ImportError("the flag file is missing on purpose")


def handler(event, context):
    return {"ok": True}
"""


def readyz(gateway: GatewayProcess) -> httpx.Response:
    return httpx.get(f"{gateway.url}/readyz", timeout=10)


def health(gateway: GatewayProcess) -> dict[str, Any]:
    answer = httpx.get(f"{gateway.url}/health", headers=gateway.admin_headers, timeout=30)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def unavailable(reason: str) -> Any:
    return lambda answer: answer.status_code == 503 and reason in answer.json()["reasons"]


def test_a_min_warm_function_that_cannot_start_keeps_the_gateway_unready(tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(FLAKY)
    config = tmp_path / "lockgate.toml"
    config.write_text(
        '[functions.flaky]\nhandler = "flaky:handler"\n[functions.flaky.scaling]\nmin_warm = 1\n'
    )
    # check_handlers off: the gateway is to start with the broken handler and say so in
    # /readyz (with it on, start-up refuses the config: tests/e2e/test_cli_check.py).
    env = {"LOCKGATE_CHECK_HANDLERS": "false"}
    with GatewayProcess(config, wait_for="/healthz", env=env) as gateway:
        answer = wait_for(
            lambda: readyz(gateway),
            unavailable("function_cannot_start"),
            what="/readyz saying a function cannot start",
        )
        # Anyone may ask /readyz: the kind of reason, not the function nor its error.
        assert answer.json() == {"status": "unavailable", "reasons": ["function_cannot_start"]}
        report = health(gateway)
        assert "missing on purpose" in report["functions"]["flaky"]["last_init_error"]
        assert report["readiness"]["reasons"] == ["function_cannot_start"]
        assert "missing on purpose" in report["readiness"]["functions"]["flaky"]
        assert report["status"] == "degraded"

        invoke = f"{gateway.url}/2015-03-31/functions/flaky/invocations"
        for _ in range(2):  # each call starts (and fails) a worker of its own
            failed = httpx.post(invoke, headers=gateway.admin_headers, json={}, timeout=30)
            assert failed.headers["x-amz-function-error"] == "Unhandled"
        log = gateway.read_output().decode()
        # Logged once, however many starts failed, with the traceback and the output.
        assert log.count("function flaky cannot start a worker") == 1, log
        assert "Traceback (most recent call last)" in log
        assert 'raise ImportError("the flag file is missing on purpose")' in log
        assert "flaky: loading its settings" in log

        (tmp_path / "ready.flag").write_text("")
        fixed = httpx.post(invoke, headers=gateway.admin_headers, json={}, timeout=30)
        assert fixed.json() == {"ok": True}
        wait_for(lambda: readyz(gateway), lambda a: a.status_code == 200, what="ready again")
        report = health(gateway)
        assert report["functions"]["flaky"]["last_init_error"] is None
        assert report["readiness"] == {"ready": True, "reasons": [], "functions": {}}
        assert "function flaky starts workers again" in gateway.read_output().decode()


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on the test server (the gateway's stores use its default
    schema), dropped afterwards; PostgreSQL being down fails the test."""
    name = f"lockgate_ready_{secrets.token_hex(6)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_DSN, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_readyz_is_unavailable_while_the_run_store_is_unreachable(
    tmp_path: Path, database: str
) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text("[gateway]\nshutdown_grace = 1\n")
    with threaded_proxy(urlsplit(POSTGRES_DSN).port or 5432) as proxy:
        store = f"postgresql://postgres:hunter2@127.0.0.1:{proxy.port}/{database}"
        env = {"LOCKGATE_RUN_STORE": store, "LOCKGATE_RESOURCE_HEALTH_TIMEOUT": "2"}
        with GatewayProcess(config, env=env) as gateway:
            assert readyz(gateway).json() == {"status": "ready"}
            assert health(gateway)["run_store"] == {"status": "healthy", "error": None}

            proxy.cut()  # the database host is gone: resets, then refused connections
            answer = wait_for(
                lambda: readyz(gateway),
                unavailable("run_store_unreachable"),
                what="/readyz saying the run store is unreachable",
            )
            assert answer.json() == {"status": "unavailable", "reasons": ["run_store_unreachable"]}
            report = health(gateway)
            assert report["status"] == "degraded"
            assert report["run_store"]["status"] == "unhealthy"
            assert f"127.0.0.1:{proxy.port}" in report["run_store"]["error"]
            assert "hunter2" not in str(report)

            proxy.restore()
            wait_for(lambda: readyz(gateway), lambda a: a.status_code == 200, what="ready again")
            assert health(gateway)["run_store"] == {"status": "healthy", "error": None}
            log = gateway.read_output().decode()
            assert log.count("the run store is unreachable") == 1, log
            assert "the run store answers again" in log


def test_after_sigterm_readyz_says_draining_while_everything_else_serves(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text("[gateway]\ndrain_seconds = 600\nshutdown_grace = 1\n")
    with GatewayProcess(config) as gateway:
        gateway.terminate()
        answer = wait_for(
            lambda: readyz(gateway), unavailable("draining"), what="/readyz saying draining"
        )
        assert answer.json() == {"status": "unavailable", "reasons": ["draining"]}
        assert httpx.get(f"{gateway.url}/healthz", timeout=10).json() == {"status": "ok"}
        assert health(gateway)["readiness"]["reasons"] == ["draining"]
        assert "stopping in 600 s" in gateway.read_output().decode()
        gateway.send_signal(signal.SIGTERM)  # a second signal stops it without the wait
        assert gateway.wait(30) in (0, -signal.SIGTERM)
