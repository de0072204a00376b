"""``lockgate jobs submit/list/show/cancel`` through typer's ``CliRunner``, against a real
HTTP server on a loopback port (uvicorn, in a thread) serving the jobs API over a real
``JobService`` (in-memory store, local processes): output, ``--json``, exit codes
(0 ok, 1 failed, 2 bad input, 3 unreachable), ``--url``/``LOCKGATE_URL`` and the admin
token (``--token``/``LOCKGATE_ADMIN_TOKEN``)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp
from typer.testing import CliRunner, Result

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.cli.jobs import jobs_app
from lockgate.controllers.http.app import create_app
from lockgate.controllers.http.error_handlers import install_error_handlers
from lockgate.controllers.http.jobs_api import jobs_router
from lockgate.gateways.job_runners.local_process import LocalProcessJobRunner
from lockgate.gateways.stores.jobs.memory import InMemoryJobStore
from lockgate.models.gateway_config import GatewayConfig
from lockgate.use_cases.jobs.service import JobService
from tests.servers import free_port
from tests.support import wait_until
from tests.unit.test_job_service import JOBS

TOKEN = "admin-token-0d6b2f9e3c71"
GUARD = 30.0  # bounds a server's start and stop; not a timing claim

cli = CliRunner()


@pytest.fixture(autouse=True)
def _no_lockgate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LOCKGATE_URL or tokens must not reach the CLI."""
    for name in ("LOCKGATE_URL", "LOCKGATE_ADMIN_TOKEN", "LOCKGATE_TOKEN", "LOCKGATE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


class ServedApp:
    """``app`` served by uvicorn on a free loopback port, from a thread with its own event
    loop (the CLI under test runs its own on the test's thread); the app's lifespan runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, name="served-app", daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        wait_until(lambda: self._server.started or not self._thread.is_alive(), GUARD)
        assert self._server.started, "the server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(GUARD)
        assert not self._thread.is_alive(), "the server did not stop"


def jobs_gateway() -> FastAPI:
    """The jobs API as a gateway serves it; the lifespan starts the service and, once it
    stopped, closes the runner (killing what still runs)."""
    runner = LocalProcessJobRunner()
    service = JobService(InMemoryJobStore(), {"local": runner}, JOBS, poll_interval=0.05)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            await runner.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(jobs_router(service))
    install_error_handlers(app)
    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with ServedApp(jobs_gateway()) as served:
        yield served.url


def lockgate(url: str | None, *args: str, env: dict[str, str] | None = None) -> Result:
    """``lockgate jobs ARGS [--url URL]``, in-process; an exception other than an exit
    fails the test."""
    argv = [*args, "--url", url] if url is not None else list(args)
    result = cli.invoke(jobs_app, argv, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lockgate jobs {' '.join(args)} raised") from result.exception
    return result


def json_of(result: Result) -> Any:
    return json.loads(result.stdout)


def submitted(url: str, job: str, *args: str) -> dict[str, Any]:
    result = lockgate(url, "submit", job, "--json", *args)
    assert result.exit_code == 0, result.stderr
    run: dict[str, Any] = json_of(result)
    return run


# -- submit --------------------------------------------------------------------------------


def test_submit_prints_the_run_id_and_show_finds_it(url: str) -> None:
    result = lockgate(url, "submit", "sleeps", "--param", "day=mon")

    assert result.exit_code == 0, result.stderr
    run_id = result.stdout.strip()
    assert run_id
    assert f"run {run_id} of job sleeps is RUNNING" in result.stderr
    shown = lockgate(url, "show", run_id)
    assert shown.exit_code == 0, shown.stderr
    assert "RUNNING" in shown.stdout
    assert "day=mon" in shown.stdout
    as_json = json_of(lockgate(url, "show", run_id, "--json"))
    assert (as_json["run_id"], as_json["status"], as_json["parameters"]) == (
        run_id,
        "RUNNING",
        {"day": "mon"},
    )


def test_submit_json_holds_every_parameter_as_text(url: str) -> None:
    run = submitted(url, "sleeps", "-p", "n=5", "--param", "expr=a=b", "-p", "empty=")

    assert run["parameters"] == {"n": "5", "expr": "a=b", "empty": ""}
    assert run["status"] == "RUNNING"


def test_submit_wait_exits_0_once_the_run_is_done(url: str) -> None:
    result = lockgate(url, "submit", "ok", "--wait")

    assert result.exit_code == 0, result.stderr
    assert "DONE" in result.stdout
    assert "done" in result.stderr


def test_submit_wait_exits_1_when_the_run_fails_saying_why(url: str) -> None:
    result = lockgate(url, "submit", "fails", "--wait")

    assert result.exit_code == 1
    assert "failed: exit status 3: boom" in result.stderr
    assert "ERROR" in result.stdout


def test_submit_wait_json_prints_only_the_final_run(url: str) -> None:
    result = lockgate(url, "submit", "fails", "--wait", "--json")

    assert result.exit_code == 1
    run = json_of(result)
    assert (run["status"], run["exit_code"], run["message"]) == ("ERROR", 3, "exit status 3: boom")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--param", "novalue"], "--param expects k=v, got 'novalue'"),
        (["--param", "a=1", "--param", "a=2"], "--param 'a' is given more than once"),
    ],
)
def test_a_malformed_param_exits_2_before_anything_starts(
    url: str, args: list[str], expected: str
) -> None:
    before = json_of(lockgate(url, "list", "--json", "--job", "ok"))

    result = lockgate(url, "submit", "ok", *args)

    assert result.exit_code == 2
    assert expected in result.stderr
    assert json_of(lockgate(url, "list", "--json", "--job", "ok")) == before


def test_submitting_an_unknown_job_exits_2(url: str) -> None:
    result = lockgate(url, "submit", "nope")

    assert result.exit_code == 2
    assert "no job 'nope' (declared: " in result.stderr
    assert result.stdout == ""


def test_a_run_the_runner_refuses_exits_1_with_its_message(url: str) -> None:
    result = lockgate(url, "submit", "missing")

    assert result.exit_code == 1
    assert "could not start run" in result.stderr


# -- list, show, cancel --------------------------------------------------------------------


def test_list_shows_runs_in_a_table_and_json_filters(url: str) -> None:
    done = lockgate(url, "submit", "ok", "--wait", "--json")
    assert done.exit_code == 0, done.stderr
    done_id = json_of(done)["run_id"]
    sleeping = submitted(url, "sleeps")

    table = lockgate(url, "list")
    assert table.exit_code == 0, table.stderr
    assert done_id in table.stdout
    assert sleeping["run_id"] in table.stdout
    assert "status" in table.stdout

    only_ok = json_of(lockgate(url, "list", "--json", "--job", "ok"))["runs"]
    assert done_id in {run["run_id"] for run in only_ok}
    assert {run["job"] for run in only_ok} == {"ok"}
    unfinished = json_of(lockgate(url, "list", "--json", "--unfinished"))["runs"]
    assert sleeping["run_id"] in {run["run_id"] for run in unfinished}
    assert done_id not in {run["run_id"] for run in unfinished}
    assert len(json_of(lockgate(url, "list", "--json", "--limit", "1"))["runs"]) == 1


def test_an_empty_list_says_so_on_stderr(url: str) -> None:
    result = lockgate(url, "list", "--job", "missing", "--unfinished")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "no unfinished job runs of job 'missing'" in result.stderr


def test_cancel_stops_a_run_and_a_second_cancel_exits_1(url: str) -> None:
    run = submitted(url, "sleeps")

    result = lockgate(url, "cancel", run["run_id"], "--reason", "not needed")

    assert result.exit_code == 0, result.stderr
    assert f"run {run['run_id']} cancelled" in result.stderr
    assert "cancelled: not needed" in result.stdout
    shown = json_of(lockgate(url, "show", run["run_id"], "--json"))
    assert (shown["status"], shown["message"]) == ("ERROR", "cancelled: not needed")
    again = lockgate(url, "cancel", run["run_id"])
    assert again.exit_code == 1
    assert "already finished (ERROR)" in again.stderr


def test_cancel_json_without_a_reason(url: str) -> None:
    run = submitted(url, "sleeps")

    result = lockgate(url, "cancel", run["run_id"], "--json")

    assert result.exit_code == 0, result.stderr
    assert json_of(result)["message"] == "cancelled: cancelled through the jobs API"


@pytest.mark.parametrize("command", ["show", "cancel"])
def test_an_unknown_run_exits_2(url: str, command: str) -> None:
    result = lockgate(url, command, "no-such-run")

    assert result.exit_code == 2
    assert "no job run 'no-such-run'" in result.stderr


# -- where the gateway is, and who may ask -------------------------------------------------


def test_the_url_comes_from_lockgate_url(url: str) -> None:
    result = lockgate(None, "list", "--json", env={"LOCKGATE_URL": url})

    assert result.exit_code == 0, result.stderr
    assert "runs" in json_of(result)


def test_an_unreachable_gateway_exits_3() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"

    result = lockgate(nobody, "list")

    assert result.exit_code == 3
    assert f"cannot reach the gateway at {nobody}" in result.stderr


def test_a_url_that_is_not_http_exits_2() -> None:
    result = lockgate("ftp://127.0.0.1:1", "list")

    assert result.exit_code == 2
    assert "must start with http:// or https://" in result.stderr


def test_the_jobs_api_needs_an_operator_token(tmp_path: Path) -> None:
    """As ``lockgate serve`` builds it: the access gate wants the admin scope, whatever the
    client's address; the CLI takes the token from --token or LOCKGATE_TOKEN."""
    settings = Settings(run_store="memory://", admin_token=TOKEN)
    application = build(settings, GatewayConfig(jobs=JOBS))
    env = {"LOCKGATE_RUNTIME_DIR": str(tmp_path)}  # no local admin token to be found
    with ServedApp(create_app(application)) as served:
        refused = lockgate(served.url, "list", env=env)
        wrong = lockgate(served.url, "list", "--token", "wrong-token-000000", env=env)
        given = lockgate(served.url, "submit", "ok", "--token", TOKEN, env=env)
        from_env = lockgate(served.url, "list", "--json", env={**env, "LOCKGATE_TOKEN": TOKEN})
        legacy = lockgate(served.url, "list", "--json", env={**env, "LOCKGATE_ADMIN_TOKEN": TOKEN})

    for result in (refused, wrong):
        assert result.exit_code == 2
        assert "pass --token or set LOCKGATE_TOKEN" in result.stderr
    assert "needs a credential" in refused.stderr
    assert "not valid" in wrong.stderr
    assert given.exit_code == 0, given.stderr
    assert from_env.exit_code == 0, from_env.stderr
    assert [run["run_id"] for run in json_of(from_env)["runs"]] == [given.stdout.strip()]
    assert json_of(legacy) == json_of(from_env)
