"""A newcomer's first minutes, for real: ``lockgate init`` makes a project, its own tests
pass, ``lockgate serve`` serves it, and ``lockgate invoke`` and ``lockgate functions`` work
through that gateway, and ``invoke --local`` without one. Every command is a real
``python -m lockgate`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.gateway_process import GatewayProcess


def lockgate(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockgate", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("newcomer")
    made = lockgate("init", "hello-app", cwd=parent)
    assert made.returncode == 0, made.stderr
    return parent / "hello-app"


@pytest.fixture(scope="module")
def gateway(project: Path) -> Iterator[GatewayProcess]:
    with GatewayProcess(project / "lockgate.toml") as running:
        yield running


def through(gateway: GatewayProcess) -> list[str]:
    return ["--url", gateway.url, "--token", gateway.admin_token]


def test_the_projects_own_tests_pass(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LOCKGATE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


def test_invoke_through_the_gateway_prints_the_result_and_the_log_tail(
    project: Path, gateway: GatewayProcess
) -> None:
    done = lockgate(
        "invoke", "hello", "--event", "events/hello.json", *through(gateway), cwd=project
    )
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)
    assert json.loads(response["body"])["message"] == "Hello, ann!"
    assert "greeting ann" in done.stderr
    assert "REPORT RequestId:" in done.stderr

    payload = lockgate(
        "invoke", "hello", "--payload", '{"name": "bo"}', *through(gateway), cwd=project
    )
    assert json.loads(json.loads(payload.stdout)["body"])["message"] == "Hello, bo!"

    missing = lockgate("invoke", "nope", *through(gateway), cwd=project)
    assert missing.returncode == 2
    assert "ResourceNotFoundException: Function not found:" in missing.stderr


def test_invoke_local_runs_the_function_without_a_gateway(project: Path) -> None:
    done = lockgate("invoke", "hello", "--local", "-e", "events/hello.json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)["body"])["message"] == "Hello, ann!"
    assert "greeting ann" in done.stderr
    # A handler that raises is a function error: its error object, exit code 1.
    raised = lockgate(
        "invoke", "hello", "--local", "--payload", '{"pathParameters": 1}', cwd=project
    )
    assert raised.returncode == 1
    assert json.loads(raised.stdout)["errorType"] == "AttributeError"


def test_functions_list_and_show_read_the_lambda_api(
    project: Path, gateway: GatewayProcess
) -> None:
    listed = lockgate("functions", "list", "--json", *through(gateway), cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert [f["FunctionName"] for f in json.loads(listed.stdout)["Functions"]] == ["hello"]

    table = lockgate("functions", "list", *through(gateway), cwd=project)
    assert "hello" in table.stdout
    assert "handlers:hello" in table.stdout

    shown = lockgate("functions", "show", "hello", *through(gateway), cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert "arn:aws:lambda:us-east-1:000000000000:function:hello" in shown.stdout
    assert "10 s" in shown.stdout

    missing = lockgate("functions", "show", "nope", *through(gateway), cwd=project)
    assert missing.returncode == 2
    assert "ResourceNotFoundException" in missing.stderr


def test_invoke_says_when_no_gateway_answers(project: Path) -> None:
    done = lockgate("invoke", "hello", "--url", "http://127.0.0.1:9", "--token", "t", cwd=project)
    assert done.returncode == 3
    assert "cannot reach the gateway at http://127.0.0.1:9" in done.stderr
