"""The gateway process as an operator sees it: bad configuration, SIGTERM under load, SIGKILL,
and never a worker process left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.e2e.gateway_process import APP_DIR, GatewayProcess, alive, children_of
from tests.support import wait_for, wait_until


def _serve_once(
    config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lockgate serve`` of ``config``, expected to refuse to start (it would not return)."""
    return subprocess.run(
        [sys.executable, "-m", "lockgate", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_an_invalid_config_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text(
        '[functions.echo]\nhandler = "handlers:echo"\n[functions.echo.scaling]\n'
        'max_capacity = "eight"\n'
    )
    done = _serve_once(config)
    assert done.returncode == 2
    assert "functions.echo.scaling.max_capacity" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_handler_that_does_not_load_stops_start_up_naming_it(tmp_path: Path) -> None:
    """Every function's handler is loaded in a throwaway worker before the gateway listens,
    min_warm or not, so a typo fails the start, not the first call; all are listed with the
    config's other problems."""
    (tmp_path / "handlers.py").write_text("def echo(event, context):\n    return event\n")
    config = tmp_path / "lockgate.toml"
    config.write_text(
        '[functions.echo]\nhandler = "handlers:echo"\n'
        '[functions.typo]\nhandler = "handlers:ecoh"\n'
        '[functions.gone]\nhandler = "nowhere:echo"\n'
        '[[routes]]\nmethod = "GET"\npath = "/e"\nfunction = "eho"\n'
    )
    done = _serve_once(config, {"LOCKGATE_RUN_STORE": "memory://"})
    assert done.returncode == 2
    assert f"lockgate: {config}: 3 problems:" in done.stderr
    assert "routes[0].function: expected a declared function" in done.stderr
    assert (
        "functions.typo.handler: cannot be loaded: Runtime.HandlerNotFound: Handler 'ecoh' "
        "missing on module 'handlers'; did you mean 'echo'?"
    ) in done.stderr
    assert "functions.gone.handler: cannot be loaded: Runtime.ImportModuleError: " in done.stderr
    assert "functions.echo" not in done.stderr
    assert "Traceback" not in done.stderr


def test_check_handlers_off_leaves_a_broken_handler_to_its_calls(tmp_path: Path) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text(
        '[gateway]\ncheck_handlers = false\n[functions.gone]\nhandler = "nowhere:echo"\n'
    )
    with GatewayProcess(config=config) as gateway:
        response = httpx.post(
            f"{gateway.url}/2015-03-31/functions/gone/invocations",
            content=b"{}",
            headers=gateway.admin_headers,
        )
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    assert response.json()["errorType"] == "Runtime.ImportModuleError"


def test_a_run_store_that_cannot_be_opened_stops_start_up_without_its_password(
    tmp_path: Path,
) -> None:
    config = tmp_path / "lockgate.toml"
    config.write_text('[functions.echo]\nhandler = "handlers:echo"\n')
    (tmp_path / "handlers.py").write_text("def echo(event, context):\n    return event\n")
    # Nothing listens on port 1 of loopback: the connection is refused at once.
    store = "postgresql://lockgate:hunter2@127.0.0.1:1/runs"
    done = _serve_once(config, {"LOCKGATE_RUN_STORE": store})
    assert done.returncode == 2
    assert "cannot open the run store (postgresql://lockgate@127.0.0.1:1/runs" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def _invoke_slow(client: httpx.Client, seconds: float) -> str:
    try:
        response = client.post(
            "/2015-03-31/functions/slow/invocations", content=json.dumps({"seconds": seconds})
        )
    except httpx.TransportError as exc:
        return type(exc).__name__  # refused or cut: a clean failure, not a hang
    return str(response.status_code)


def _wait_until_busy(client: httpx.Client, busy: int) -> None:
    wait_for(
        lambda: client.get("/health").json()["functions"]["slow"]["busy"],
        lambda found: found == busy,
        guard=10,
        what=f"{busy} busy workers",
    )


def test_sigterm_under_load_finishes_in_flight_calls_and_leaves_no_worker() -> None:
    with (
        GatewayProcess() as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        list(pool.map(lambda _: _invoke_slow(client, 0), range(8)))  # warm 8 workers
        calls = [pool.submit(_invoke_slow, client, 1.0) for _ in range(8)]
        _wait_until_busy(client, 8)
        workers = children_of(gateway.pid)
        assert len(workers) >= 8
        gateway.terminate()
        outcomes = [call.result(timeout=30) for call in calls]
        late = _invoke_slow(client, 0)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says so.
        assert gateway.wait(30) in (0, -15)
    assert outcomes == ["200"] * 8  # in-flight calls were allowed to finish
    # New calls are refused once shutdown began (how depends on where the close lands).
    assert late in {"ConnectError", "RemoteProtocolError", "ReadError"}
    wait_until(lambda: not any(alive(pid) for pid in workers), 5, what="every worker gone")


def test_workers_die_with_a_gateway_that_is_killed_outright() -> None:
    with GatewayProcess() as gateway:
        httpx.post(f"{gateway.url}/2015-03-31/functions/pid/invocations", content=b"{}")
        workers = children_of(gateway.pid)
        assert workers
        assert gateway.process is not None
        gateway.process.kill()
        gateway.wait(10)
    wait_until(lambda: not any(alive(pid) for pid in workers), 5, what="every worker gone")


def test_a_flood_beyond_max_queue_is_shed_with_retry_after_and_nothing_hangs(
    gateway: GatewayProcess,
) -> None:
    def call(_: int) -> httpx.Response:
        return httpx.post(
            f"{gateway.url}/2015-03-31/functions/narrow/invocations",
            content=json.dumps({"seconds": 0.5}),
            timeout=30,
        )

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(call, range(10), timeout=60))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2  # max_queue callers wait, the first while its worker starts
    shed = [r for r in responses if r.status_code == 429]
    assert shed
    for response in shed:
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert set(statuses) <= {200, 429}


def _greeting(client: httpx.Client) -> tuple[str, int]:
    body = client.post("/2015-03-31/functions/context/invocations", content=b"{}").json()
    return body["greeting"], body["pid"]


def test_sighup_reloads_the_config_and_replaces_changed_pools(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(APP_DIR, app_dir)
    config = app_dir / "lockgate.toml"
    with (
        GatewayProcess(config) as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as client,
    ):
        greeting, old_pid = _greeting(client)
        assert greeting == "hello"
        assert client.get("/added").status_code == 404
        text = config.read_text().replace('GREETING = "hello"', 'GREETING = "bonjour"')
        config.write_text(
            text + '\n[[routes]]\nmethod = "GET"\npath = "/added"\nfunction = "pid"\n'
        )
        gateway.send_signal(signal.SIGHUP)
        wait_until(lambda: _greeting(client)[0] == "bonjour", 10, what="the reload")
        assert client.get("/added").status_code == 200
        # The old pool drained and its worker ended.
        wait_until(lambda: not alive(old_pid), 10, what="the replaced worker gone")

        config.write_text("this is [not toml")
        gateway.send_signal(signal.SIGHUP)
        wait_until(lambda: b"reload refused" in gateway.read_output(), what="the refusal")
        assert _greeting(client)[0] == "bonjour"  # a bad file changes nothing


def test_sighup_refuses_a_file_whose_new_function_cannot_load(tmp_path: Path) -> None:
    """As at start-up, a handler that cannot load refuses the file on SIGHUP (the handlers
    of new and changed functions are loaded in throwaway workers first); the previous
    configuration keeps serving, and the log says which function and why."""
    (tmp_path / "handlers.py").write_text(
        "def ok(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
    )
    config = tmp_path / "lockgate.toml"
    text = (
        '[functions.ok]\nhandler = "handlers:ok"\n'
        '\n[[routes]]\nmethod = "GET"\npath = "/ok"\nfunction = "ok"\n'
    )
    config.write_text(text)
    with (
        GatewayProcess(config) as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as client,
    ):
        assert client.get("/ok").text == "ok"
        config.write_text(
            text
            + '\n[functions.unloadable]\nhandler = "handlers:nowhere"\n'
            + '\n[[routes]]\nmethod = "GET"\npath = "/unloadable"\nfunction = "unloadable"\n'
        )
        gateway.send_signal(signal.SIGHUP)
        wait_until(
            lambda: b"functions.unloadable.handler: cannot be loaded" in gateway.read_output(),
            what="the handler's refusal",
        )
        assert client.get("/unloadable").status_code == 404
        assert client.get("/ok").text == "ok"

        config.write_text(text.replace("/ok", "/fine"))  # a good file still goes in
        gateway.send_signal(signal.SIGHUP)
        wait_until(lambda: client.get("/fine").status_code == 200, what="the next reload")
