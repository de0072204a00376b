"""``lockgate run`` and ``lockgate runs list/show/cancel`` against a real gateway process.

The CLI runs in-process through typer's ``CliRunner`` (the same ``app`` the ``lockgate``
script runs) and, where a signal or the script itself is the point, as a real
``python -m lockgate`` process. The gateway is always a real ``lockgate serve``; this module
starts its own so run listings hold only the runs made here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from lockgate.controllers.cli.main import app
from tests.e2e.gateway_process import GatewayProcess
from tests.servers import free_port
from tests.support import wait_for

runner = CliRunner()


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    with GatewayProcess() as running:
        yield running


def lockgate(gateway_url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """``lockgate ARGS --url URL``, in-process; an exception other than an exit fails."""
    result = runner.invoke(app, [*args, "--url", gateway_url], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"lockgate {' '.join(args)} raised") from result.exception
    return result


def json_of(result: Result) -> Any:
    return json.loads(result.stdout)


def wait_until_running(gateway: GatewayProcess, workflow: str, known: set[str]) -> str:
    """The id of a run of ``workflow`` that is running and not in ``known``."""

    def fresh() -> list[str]:
        running = {"workflow": workflow, "status": "running"}
        runs = httpx.get(f"{gateway.url}/runs", params=running).json()["runs"]
        return [run["run_id"] for run in runs if run["run_id"] not in known]

    return str(wait_for(fresh, bool, guard=30, what=f"a new run of {workflow}")[0])


# --- lockgate run -------------------------------------------------------------------------


def test_a_completed_run_prints_its_result_after_each_steps_progress(
    gateway: GatewayProcess,
) -> None:
    result = lockgate(gateway.url, "run", "pipeline", "--param", "numbers=[1, 2, 3]")

    assert result.exit_code == 0, result.stderr
    assert json_of(result) == {
        "extract": {"doubled": [2, 4, 6]},
        "transform": {"total": 12, "count": 3},
    }
    lines = result.stderr.splitlines()
    step_lines = {
        line.split()[1]: line for line in lines if line.split()[1:2] in (["extract"], ["transform"])
    }
    assert set(step_lines) == {"extract", "transform"}
    assert all("completed" in line and "✓" in line for line in step_lines.values())
    assert any("pipeline" in line and "2/2 steps" in line for line in lines)
    assert "completed in" in lines[-1]


def test_a_failed_run_exits_1_naming_the_failed_step(gateway: GatewayProcess) -> None:
    result = lockgate(gateway.url, "run", "failing")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "failed: step 'explode' failed: ValueError: row 3 is malformed" in result.stderr
    fetch = next(line for line in result.stderr.splitlines() if " fetch " in line)
    explode = next(line for line in result.stderr.splitlines() if " explode " in line)
    assert "completed" in fetch
    assert "failed" in explode


def test_a_parameter_declared_str_keeps_its_text_and_an_int_parameter_reads_json(
    gateway: GatewayProcess,
) -> None:
    result = lockgate(
        gateway.url, "run", "report", "--param", "limit=5", "--param", "label=123", "--json"
    )

    assert result.exit_code == 0, result.stderr
    assert json_of(result)["result"] == {"render": {"limit": 5, "label": "123"}}


def test_params_json_and_context_reach_the_run(gateway: GatewayProcess) -> None:
    result = lockgate(
        gateway.url,
        "run",
        "report",
        "--params-json",
        '{"limit": 1, "label": "x"}',
        "--param",
        "limit=2",
        "--json",
    )
    assert json_of(result)["result"] == {"render": {"limit": 2, "label": "x"}}

    result = lockgate(
        gateway.url, "run", "context_echo", "-c", "user=ann", "--context", "tier=5", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json_of(result)["result"] == {"read": {"variables": {"user": "ann", "tier": "5"}}}


def test_json_prints_only_the_final_run(gateway: GatewayProcess) -> None:
    result = lockgate(gateway.url, "run", "slow", "--param", "seconds=0.2", "--json")

    assert result.exit_code == 0, result.stderr
    run = json_of(result)
    assert run["status"] == "completed"
    assert run["workflow_id"] == "slow"
    assert set(run["steps"]) == {"first", "second"}
    assert all(step["status"] == "completed" for step in run["steps"].values())
    assert run["finished_at"] >= run["created_at"]
    assert result.stderr == ""

    failed = lockgate(gateway.url, "run", "failing", "--json")
    assert failed.exit_code == 1
    assert json_of(failed)["error"] == "step 'explode' failed: ValueError: row 3 is malformed"


def test_an_idempotency_key_gives_the_same_run_back(gateway: GatewayProcess) -> None:
    key = f"cli-{time.time_ns()}"
    first = json_of(lockgate(gateway.url, "run", "counted", "--idempotency-key", key, "--json"))
    again = json_of(lockgate(gateway.url, "run", "counted", "--idempotency-key", key, "--json"))
    assert again["run_id"] == first["run_id"]
    assert again["result"] == first["result"]

    conflict = lockgate(
        gateway.url, "run", "counted", "-p", "x=1", "--idempotency-key", key, "--json"
    )
    assert conflict.exit_code == 2
    assert key not in conflict.stdout


def test_an_unknown_workflow_exits_2_listing_the_registered_ones(
    gateway: GatewayProcess,
) -> None:
    result = lockgate(gateway.url, "run", "nope", "--param", "a=1")

    assert result.exit_code == 2
    assert "no workflow 'nope'" in result.stderr
    assert "registered: " in result.stderr
    assert "pipeline" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "limit=abc"], "parameter 'limit' must be int, not str"),
        ([], "parameter 'limit' is required"),
        (["--param", "limit=1", "--param", "nope=1"], "unknown parameter 'nope'"),
    ],
)
def test_invalid_parameters_exit_2_naming_the_parameter(
    gateway: GatewayProcess, args: list[str], message: str
) -> None:
    before = httpx.get(f"{gateway.url}/runs", params={"workflow": "report"}).json()["runs"]

    result = lockgate(gateway.url, "run", "report", *args)

    assert result.exit_code == 2
    assert message in result.stderr
    after = httpx.get(f"{gateway.url}/runs", params={"workflow": "report"}).json()["runs"]
    assert after == before  # nothing started


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "abc"], "--param expects k=v, got 'abc'"),
        (["--param", "=5"], "--param expects k=v, got '=5'"),
        (["--param", "a=1", "--param", "a=2"], "--param 'a' is given more than once"),
        (["--params-json", "[1]"], "--params-json expects a JSON object, got an array"),
        (["--params-json", "{oops"], "--params-json is not valid JSON"),
        (["--context", "user"], "--context expects k=v, got 'user'"),
    ],
)
def test_a_malformed_option_exits_2_before_asking_the_gateway(
    args: list[str], message: str
) -> None:
    # No gateway listens there: the option is refused first.
    result = lockgate(f"http://127.0.0.1:{free_port()}", "run", "pipeline", *args)

    assert result.exit_code == 2
    assert f"lockgate: {message}" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["run", "pipeline"],
        ["run", "pipeline", "--json"],
        ["runs", "list"],
        ["runs", "show", "some-run"],
        ["runs", "cancel", "some-run"],
    ],
)
def test_an_unreachable_gateway_exits_3(args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = lockgate(url, *args)

    assert result.exit_code == 3
    assert "cannot reach the gateway" in result.stderr
    assert url in result.stderr
    assert "Traceback" not in result.stderr


def test_the_url_comes_from_lockgate_url(gateway: GatewayProcess) -> None:
    result = runner.invoke(app, ["run", "counted", "--json"], env={"LOCKGATE_URL": gateway.url})
    assert result.exit_code == 0, result.stderr
    assert json_of(result)["status"] == "completed"


# --- --no-wait, runs show, runs cancel ------------------------------------------------------


def test_no_wait_prints_the_run_id_which_runs_show_and_cancel_take(
    gateway: GatewayProcess,
) -> None:
    started = lockgate(gateway.url, "run", "slow", "--param", "seconds=30", "--no-wait")
    assert started.exit_code == 0, started.stderr
    run_id = started.stdout.strip()
    assert run_id
    assert started.stdout == f"{run_id}\n"

    shown = lockgate(gateway.url, "runs", "show", run_id, "--json")
    assert shown.exit_code == 0
    assert json_of(shown)["run_id"] == run_id
    assert json_of(shown)["status"] == "running"
    assert json_of(shown)["steps"]["second"]["status"] == "pending"

    table = lockgate(gateway.url, "runs", "show", run_id)
    assert table.exit_code == 0
    assert run_id in table.stdout
    assert "running" in table.stdout
    assert "first" in table.stdout
    assert "second" in table.stdout

    cancelled = lockgate(gateway.url, "runs", "cancel", run_id)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert f"run {run_id} cancelled" in cancelled.stderr
    assert "cancelled" in cancelled.stdout
    assert run_id in cancelled.stdout

    after = json_of(lockgate(gateway.url, "runs", "show", run_id, "--json"))
    assert after["status"] == "cancelled"

    again = lockgate(gateway.url, "runs", "cancel", run_id)
    assert again.exit_code == 1
    assert f"run {run_id} has already finished (cancelled)" in again.stderr


def test_no_wait_with_json_prints_the_running_run(gateway: GatewayProcess) -> None:
    started = lockgate(gateway.url, "run", "slow", "-p", "seconds=30", "--no-wait", "--json")
    assert started.exit_code == 0
    run = json_of(started)
    assert run["status"] == "running"

    cancelled = lockgate(gateway.url, "runs", "cancel", run["run_id"], "--json")
    assert cancelled.exit_code == 0
    assert json_of(cancelled)["status"] == "cancelled"
    assert json_of(cancelled)["run_id"] == run["run_id"]


def test_a_finished_run_is_shown_with_its_steps_and_result(gateway: GatewayProcess) -> None:
    run = json_of(lockgate(gateway.url, "run", "failing", "--json"))

    shown = lockgate(gateway.url, "runs", "show", run["run_id"])

    assert shown.exit_code == 0
    assert "failed" in shown.stdout
    assert "row 3 is malformed" in shown.stdout
    assert '"rows": 3' in shown.stdout  # fetch's output, kept by the failed run
    assert json_of(lockgate(gateway.url, "runs", "show", run["run_id"], "--json")) == run


@pytest.mark.parametrize("command", ["show", "cancel"])
def test_an_unknown_run_exits_2(gateway: GatewayProcess, command: str) -> None:
    result = lockgate(gateway.url, "runs", command, "no-such-run")

    assert result.exit_code == 2
    assert "no run 'no-such-run'" in result.stderr


# --- runs list ------------------------------------------------------------------------------


def test_runs_list_filters_by_workflow_and_status(gateway: GatewayProcess) -> None:
    completed = json_of(lockgate(gateway.url, "run", "pipeline", "-p", "numbers=[1]", "--json"))
    failed = json_of(lockgate(gateway.url, "run", "failing", "--json"))

    pipelines = json_of(lockgate(gateway.url, "runs", "list", "--workflow", "pipeline", "--json"))
    assert {run["workflow_id"] for run in pipelines["runs"]} == {"pipeline"}
    assert completed["run_id"] in {run["run_id"] for run in pipelines["runs"]}

    failures = json_of(lockgate(gateway.url, "runs", "list", "--status", "failed", "--json"))
    assert {run["status"] for run in failures["runs"]} == {"failed"}
    assert failed["run_id"] in {run["run_id"] for run in failures["runs"]}
    assert completed["run_id"] not in {run["run_id"] for run in failures["runs"]}

    table = lockgate(gateway.url, "runs", "list", "--workflow", "failing", "--status", "failed")
    assert table.exit_code == 0
    assert failed["run_id"] in table.stdout
    assert "explode" in table.stdout
    assert "pipeline" not in table.stdout

    none = lockgate(gateway.url, "runs", "list", "--workflow", "greeting")
    assert none.exit_code == 0
    assert "no runs of workflow 'greeting'" in none.stderr

    bad = lockgate(gateway.url, "runs", "list", "--status", "done")
    assert bad.exit_code == 2
    assert "'done' is not one of" in bad.stderr


def test_runs_list_all_follows_every_page(gateway: GatewayProcess) -> None:
    made = [json_of(lockgate(gateway.url, "run", "counted", "--json"))["run_id"] for _ in range(5)]
    everything = json_of(
        lockgate(gateway.url, "runs", "list", "--workflow", "counted", "--json", "--all")
    )
    total = len(everything["runs"])
    assert total >= 5
    assert everything["next_cursor"] is None

    one_page = lockgate(gateway.url, "runs", "list", "--workflow", "counted", "--limit", "2")
    assert one_page.exit_code == 0
    assert "2 runs shown; more with --all" in one_page.stderr
    page = json_of(
        lockgate(gateway.url, "runs", "list", "--workflow", "counted", "--limit", "2", "--json")
    )
    assert len(page["runs"]) == 2
    assert page["next_cursor"] is not None

    paged = json_of(
        lockgate(
            gateway.url, "runs", "list", "--workflow", "counted", "--limit", "2", "--all", "--json"
        )
    )
    ids = [run["run_id"] for run in paged["runs"]]
    assert len(ids) == len(set(ids)) == total
    assert paged["next_cursor"] is None
    assert ids == [run["run_id"] for run in everything["runs"]]
    assert ids[:5] == made[::-1]  # newest first

    table = lockgate(gateway.url, "runs", "list", "--workflow", "counted", "--limit", "2", "--all")
    assert all(run_id in table.stdout for run_id in made)
    assert "more with --all" not in table.stderr


# --- the lockgate script, and Ctrl-C --------------------------------------------------------


def test_ctrl_c_stops_watching_and_leaves_the_run_running(gateway: GatewayProcess) -> None:
    known = {
        run["run_id"]
        for run in httpx.get(f"{gateway.url}/runs", params={"workflow": "slow"}).json()["runs"]
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "lockgate", "run", "slow", "--param", "seconds=30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, LOCKGATE_URL=gateway.url),
        # A shell's background job may inherit SIGINT ignored; Python then never sees it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        run_id = wait_until_running(gateway, "slow", known)
        time.sleep(0.5)  # the CLI is watching by now: it started the run before polling it
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    stderr = err.decode()
    assert process.returncode == 130, stderr
    assert out == b""
    assert f"stopped watching; run {run_id} continues on the gateway" in stderr
    assert f"lockgate runs cancel {run_id}" in stderr
    first = next(line for line in stderr.splitlines() if " first " in line)
    second = next(line for line in stderr.splitlines() if " second " in line)
    assert "running" in first
    assert "pending" in second
    assert httpx.get(f"{gateway.url}/runs/{run_id}").json()["status"] == "running"

    cancelled = lockgate(gateway.url, "runs", "cancel", run_id, "--json")
    assert json_of(cancelled)["status"] == "cancelled"
