"""Custom runtimes (``runtime = "provided"``) served by a real gateway process and called
through boto3: the official awslambdaric and a shell ``bootstrap`` behave as Lockgate's own
workers do, from the caller's side."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mypy_boto3_lambda import LambdaClient

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.lambda_support import lambda_client_for, wait_until_event
from tests.support import wait_until

RUNTIME_APP = Path(__file__).resolve().parents[1] / "integration" / "runtime_app"


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    config = tmp_path_factory.mktemp("runtimes") / "lockgate.toml"
    ric = json.dumps([sys.executable, "-m", "awslambdaric"])[:-1]  # argv without the handler
    config.write_text(
        f"""
[gateway]
async_retry_delay = 0.05

[functions.ric]
runtime = "provided"
command = {ric}, "handlers.context_fields"]
handler = "handlers.context_fields"
code_dir = "{RUNTIME_APP}"
timeout = 30

[functions.ric-fail]
runtime = "provided"
command = {ric}, "handlers.fail"]
code_dir = "{RUNTIME_APP}"
timeout = 30

[functions.shell]
runtime = "provided"
command = ["sh", "bootstrap"]
handler = "echo"
code_dir = "{RUNTIME_APP}"
timeout = 30

[functions.shell-crash]
runtime = "provided"
command = ["sh", "bootstrap"]
handler = "crash"
code_dir = "{RUNTIME_APP}"
timeout = 30

[[routes]]
method = "GET"
path = "/runtime/{{what}}"
function = "shell-crash"
"""
    )
    with GatewayProcess(config) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def lambda_client(runtimes: GatewayProcess) -> Iterator[LambdaClient]:
    client = lambda_client_for(runtimes.url)
    yield client
    client.close()


def test_awslambdaric_answers_a_boto3_invoke(lambda_client: LambdaClient) -> None:
    custom = base64.b64encode(json.dumps({"custom": {"tenant": "acme"}}).encode()).decode()
    response = lambda_client.invoke(
        FunctionName="ric", Payload=b'{"a": 1}', ClientContext=custom, LogType="Tail"
    )

    fields = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200
    assert fields["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert fields["arn"].endswith(":function:ric")
    assert fields["client_custom"] == {"tenant": "acme"}
    assert 0 < fields["remaining_ms"] <= 30_000


def test_an_awslambdaric_handler_error_is_a_function_error(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(FunctionName="ric-fail", Payload=b'{"why": "no"}')

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad input: no")


def test_a_shell_bootstrap_answers_sync_and_event_invokes(
    lambda_client: LambdaClient, runtimes: GatewayProcess
) -> None:
    response = lambda_client.invoke(FunctionName="shell", Payload=b'{"n": 7}')
    assert json.loads(response["Payload"].read())["event"] == {"n": 7}

    queued = lambda_client.invoke(FunctionName="shell", InvocationType="Event", Payload=b"{}")
    request_id = queued["ResponseMetadata"]["RequestId"]

    assert queued["StatusCode"] == 202
    wait_until_event(runtimes, request_id, "succeeded")


def test_a_runtime_that_crashes_mid_invoke_is_an_error_and_is_replaced(
    lambda_client: LambdaClient,
) -> None:
    first = json.loads(
        lambda_client.invoke(FunctionName="shell-crash", Payload=b"{}")["Payload"].read()
    )

    crashed = lambda_client.invoke(FunctionName="shell-crash", Payload=b'{"crash": 1}')

    assert crashed["FunctionError"] == "Unhandled"
    assert "exit status 7" in json.loads(crashed["Payload"].read())["errorMessage"]
    after: dict[str, int] = {}

    def answered() -> bool:
        reply = lambda_client.invoke(FunctionName="shell-crash", Payload=b"{}")
        after.update(json.loads(reply["Payload"].read()))
        return "pid" in after

    wait_until(answered)
    assert after["pid"] != first["pid"]  # a new runtime process


def test_a_runtime_crashing_behind_a_route_is_a_502_and_the_next_call_works(
    runtimes: GatewayProcess,
) -> None:
    crashed = httpx.get(f"{runtimes.url}/runtime/crash", timeout=30)  # the event says crash

    assert crashed.status_code == 502
    wait_until(lambda: httpx.get(f"{runtimes.url}/runtime/fine", timeout=30).status_code == 200)
