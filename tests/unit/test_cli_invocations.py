"""``lockgate invocations list/show/redrive`` through typer's ``CliRunner``, against a real
gateway (``build`` and ``create_app``, as ``lockgate serve`` makes it) served by uvicorn on
a loopback port: Event invocations are sent through the Invoke API, run by real workers,
die, and are re-driven by the CLI.

The handler fails until the file its event names exists, so a test decides when a
re-driven invocation may succeed."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.cli.invocations import invocations_app
from lockgate.controllers.http.app import create_app
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from tests.servers import free_port
from tests.support import wait_for
from tests.unit.test_cli_jobs import ServedApp

TOKEN = "admin-token-7a3e5c1d9b20"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
GUARD = 60.0  # bounds a wait for the gateway's workers; not a timing claim

HANDLER = textwrap.dedent(
    """
    import os


    def gated(event, context):
        if not os.path.exists(event["gate"]):
            raise ValueError(f"gate {os.path.basename(event['gate'])} is closed")
        return {"passed": event["gate"]}
    """
)

cli = CliRunner()


@pytest.fixture(autouse=True)
def _no_lockgate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LOCKGATE_URL or tokens must not reach the CLI."""
    for name in ("LOCKGATE_URL", "LOCKGATE_ADMIN_TOKEN", "LOCKGATE_TOKEN", "LOCKGATE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("functions")
    (folder / "handlers.py").write_text(HANDLER)
    return folder


@pytest.fixture(scope="module")
def url(code: Path) -> Iterator[str]:
    """A gateway with two functions on the same handler; no retries, so one failed attempt
    makes an invocation dead."""
    functions = {
        name: FunctionEntity(name=name, handler="handlers:gated", code_dir=code, timeout_seconds=30)
        for name in ("gated", "other")
    }
    settings = Settings(
        run_store="memory://", async_max_retries=0, log_level="WARNING", admin_token=TOKEN
    )
    application = build(settings, GatewayConfig(functions=functions))
    with ServedApp(create_app(application)) as served:
        yield served.url


def lockgate(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """``lockgate invocations ARGS --url URL``, in-process, as the operator (LOCKGATE_TOKEN)
    unless ``env`` says otherwise; an exception other than an exit fails the test."""
    given = {"LOCKGATE_TOKEN": TOKEN} if env is None else env
    result = cli.invoke(invocations_app, [*args, "--url", url], env=given)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lockgate invocations {' '.join(args)} raised") from result.exception
    return result


def json_of(result: Result) -> Any:
    return json.loads(result.stdout)


def send_event(url: str, function: str, gate: Path) -> str:
    """An Event invoke through the Invoke API; its request id."""
    response = httpx.post(
        f"{url}/2015-03-31/functions/{function}/invocations",
        json={"gate": str(gate)},
        headers={"X-Amz-Invocation-Type": "Event"},
    )
    assert response.status_code == 202, response.text
    return response.headers["x-amzn-requestid"]


def settled(url: str, request_id: str, status: str) -> dict[str, Any]:
    """The invocation once its status is ``status`` (the gateway's workers run it)."""
    invocation: dict[str, Any] = wait_for(
        lambda: httpx.get(f"{url}/invocations/{request_id}", headers=ADMIN).json(),
        lambda found: found["status"] == status,
        guard=GUARD,
        what=f"{request_id} {status}",
    )
    return invocation


def dead_one(url: str, tmp_path: Path, function: str = "gated", name: str = "gate") -> str:
    request_id = send_event(url, function, tmp_path / name)
    settled(url, request_id, "dead")
    return request_id


# -- list and show -------------------------------------------------------------------------


def test_list_dead_shows_the_invocation_and_its_error(url: str, tmp_path: Path) -> None:
    request_id = dead_one(url, tmp_path)

    table = lockgate(url, "list", "--status", "dead")

    assert table.exit_code == 0, table.stderr
    line = next(line for line in table.stdout.splitlines() if request_id in line)
    assert "gated" in line
    assert "dead" in line
    assert "ValueError" in line
    listed = json_of(lockgate(url, "list", "--status", "dead", "--json"))["invocations"]
    mine = next(i for i in listed if i["request_id"] == request_id)
    assert (mine["status"], mine["attempts"]) == ("dead", 1)
    assert json.loads(mine["error"])["errorMessage"] == "gate gate is closed"


def test_list_filters_by_function_and_says_when_nothing_matched(url: str, tmp_path: Path) -> None:
    request_id = dead_one(url, tmp_path, function="gated")

    others = json_of(lockgate(url, "list", "--function", "other", "--json"))["invocations"]
    assert request_id not in {i["request_id"] for i in others}
    empty = lockgate(url, "list", "--function", "nobody", "--status", "queued")
    assert empty.exit_code == 0, empty.stderr
    assert empty.stdout == ""
    assert "no queued Event invocations of function 'nobody'" in empty.stderr


def test_a_status_that_does_not_exist_is_bad_input(url: str) -> None:
    result = lockgate(url, "list", "--status", "lost")

    assert result.exit_code == 2
    assert "lost" in result.stderr


def test_show_prints_the_invocation_its_error_and_payload(url: str, tmp_path: Path) -> None:
    request_id = dead_one(url, tmp_path)

    shown = lockgate(url, "show", request_id)

    assert shown.exit_code == 0, shown.stderr
    assert request_id in shown.stdout
    assert "ValueError: gate gate is closed" in shown.stdout
    assert json.dumps(str(tmp_path / "gate")) in shown.stdout  # the payload, as JSON
    as_json = json_of(lockgate(url, "show", request_id, "--json"))
    assert as_json["payload"] == {"gate": str(tmp_path / "gate")}
    assert as_json["function"] == "gated"


def test_show_of_an_unknown_invocation_exits_2(url: str) -> None:
    result = lockgate(url, "show", "no-such-request")

    assert result.exit_code == 2
    assert "no Event invocation 'no-such-request'" in result.stderr


# -- redrive -------------------------------------------------------------------------------


def test_redrive_needs_ids_or_all_but_not_both(url: str) -> None:
    nothing = lockgate(url, "redrive")
    both = lockgate(url, "redrive", "some-id", "--all")

    assert nothing.exit_code == 2
    assert "name the invocations to re-drive, or pass --all" in nothing.stderr
    assert both.exit_code == 2
    assert "not both" in both.stderr


def test_a_redriven_invocation_runs_again_and_can_succeed(url: str, tmp_path: Path) -> None:
    request_id = dead_one(url, tmp_path)
    (tmp_path / "gate").touch()

    result = lockgate(url, "redrive", request_id)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [request_id]
    assert "1 invocation queued again" in result.stderr
    succeeded = settled(url, request_id, "succeeded")
    assert succeeded["attempts"] == 1
    assert succeeded["error"] is None


def test_redriving_one_that_is_not_dead_exits_1_and_an_unknown_one_2(
    url: str, tmp_path: Path
) -> None:
    (tmp_path / "gate").touch()
    request_id = send_event(url, "gated", tmp_path / "gate")
    settled(url, request_id, "succeeded")

    not_dead = lockgate(url, "redrive", request_id)
    unknown = lockgate(url, "redrive", "no-such-request")

    assert not_dead.exit_code == 1
    assert f"invocation {request_id} is succeeded, not dead" in not_dead.stderr
    assert unknown.exit_code == 2
    assert "no Event invocation 'no-such-request'" in unknown.stderr


def test_redriving_several_names_those_that_were_not(url: str, tmp_path: Path) -> None:
    first, second = dead_one(url, tmp_path, name="g1"), dead_one(url, tmp_path, name="g2")

    result = lockgate(url, "redrive", first, "no-such-request", second, "--json")

    assert result.exit_code == 1
    assert json_of(result) == {"redriven": [first, second], "not_redriven": ["no-such-request"]}
    assert "not re-driven (not dead, unknown): no-such-request" in result.stderr
    for request_id in (first, second):
        settled(url, request_id, "dead")  # queued again, ran, and died again: the gate is shut


def test_redrive_all_of_a_function_leaves_the_others_dead(url: str, tmp_path: Path) -> None:
    mine = [dead_one(url, tmp_path, function="other", name=f"o{i}") for i in range(2)]
    theirs = dead_one(url, tmp_path, function="gated", name="g")
    for index in range(2):
        (tmp_path / f"o{index}").touch()

    result = lockgate(url, "redrive", "--all", "--function", "other")

    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(mine)
    for request_id in mine:
        settled(url, request_id, "succeeded")
    assert settled(url, theirs, "dead")["attempts"] == 1
    again = lockgate(url, "redrive", "--all", "--function", "other")
    assert again.exit_code == 0, again.stderr
    assert again.stdout == ""
    assert "no dead Event invocations of function 'other'" in again.stderr


# -- where the gateway is, and who may ask -------------------------------------------------


def test_an_unreachable_gateway_exits_3() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"

    result = lockgate(nobody, "list")

    assert result.exit_code == 3
    assert f"cannot reach the gateway at {nobody}" in result.stderr


def test_a_gateway_with_an_admin_token_needs_it(tmp_path: Path) -> None:
    settings = Settings(run_store="memory://", admin_token=TOKEN)
    nothing_local = {"LOCKGATE_RUNTIME_DIR": str(tmp_path)}
    with ServedApp(create_app(build(settings))) as served:
        refused = lockgate(served.url, "list", env=nothing_local)
        given = lockgate(served.url, "list", "--json", "--token", TOKEN, env=nothing_local)
        from_env = lockgate(
            served.url, "redrive", "--all", env={**nothing_local, "LOCKGATE_TOKEN": TOKEN}
        )

    assert refused.exit_code == 2
    assert "pass --token or set LOCKGATE_TOKEN" in refused.stderr
    assert given.exit_code == 0, given.stderr
    assert json_of(given) == {"invocations": []}
    assert from_env.exit_code == 0, from_env.stderr
    assert "no dead Event invocations" in from_env.stderr
