"""``Event`` invocations, aliases, ``ListFunctions`` and ``GetFunction`` through boto3
against a real gateway process, as AWS Lambda answers them.

Event invocations are checked by their effects (the ``record`` handler appends each event it
ran to a file) and through the gateway's ``/invocations`` API.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mypy_boto3_lambda import LambdaClient

from tests.e2e.gateway_process import APP_DIR, GatewayProcess
from tests.e2e.lambda_support import invocation, lambda_client_for
from tests.support import wait_until

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"


@pytest.fixture(scope="module")
def lambda_client(gateway: GatewayProcess) -> Iterator[LambdaClient]:
    client = lambda_client_for(gateway.url)
    yield client
    client.close()


def recorded(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- Event --------------------------------------------------------------------------------


def test_an_event_invoke_answers_202_and_runs_the_function(
    lambda_client: LambdaClient, client: httpx.Client, tmp_path: Path
) -> None:
    path = tmp_path / "ran.jsonl"
    response = lambda_client.invoke(
        FunctionName="record",
        InvocationType="Event",
        Payload=json.dumps({"path": str(path), "n": 1}).encode(),
    )

    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_until(lambda: len(recorded(path)) == 1)
    [ran] = recorded(path)
    assert ran["event"] == {"path": str(path), "n": 1}
    assert ran["request_id"] == request_id  # context.aws_request_id is the 202's id
    wait_until(lambda: invocation(client, request_id)["status"] == "succeeded")
    assert invocation(client, request_id)["attempts"] == 1


def test_an_event_invoke_of_an_unknown_function_is_404_not_202(
    lambda_client: LambdaClient, client: httpx.Client
) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as info:
        lambda_client.invoke(FunctionName="no-such-function", InvocationType="Event")

    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    listed = client.get("/invocations", params={"function": "no-such-function"}).json()
    assert listed["invocations"] == []


def test_an_event_invoke_with_an_unknown_alias_is_404(lambda_client: LambdaClient) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="record", InvocationType="Event", Qualifier="nope")


def test_an_event_invoke_with_a_body_that_is_not_json_is_refused(
    lambda_client: LambdaClient,
) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName="record", InvocationType="Event", Payload=b"{nope")


def test_a_failing_event_is_retried_twice_then_dead_with_its_error(
    lambda_client: LambdaClient, client: httpx.Client
) -> None:
    response = lambda_client.invoke(
        FunctionName="raises", InvocationType="Event", Payload=b'{"why": "always"}'
    )
    request_id = response["ResponseMetadata"]["RequestId"]

    wait_until(lambda: invocation(client, request_id)["status"] == "dead")
    dead = invocation(client, request_id)
    assert dead["attempts"] == 3  # the first attempt and two retries, as AWS Lambda
    error = json.loads(dead["error"])
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "the handler refused"
    assert dead["payload"] == {"why": "always"}
    listed = client.get("/invocations", params={"status": "dead", "function": "raises"}).json()
    assert request_id in [i["request_id"] for i in listed["invocations"]]


def test_a_dead_event_is_redriven_and_then_runs(
    lambda_client: LambdaClient, client: httpx.Client, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"
    # Fails on calls 1-3 (dead after three attempts), succeeds on the fourth: the redrive.
    event = {"path": str(counter), "fail_times": 3}
    response = lambda_client.invoke(
        FunctionName="flaky", InvocationType="Event", Payload=json.dumps(event).encode()
    )
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_until(lambda: invocation(client, request_id)["status"] == "dead")
    assert "failing on call 3" in invocation(client, request_id)["error"]

    redriven = client.post(f"/invocations/{request_id}/redrive")

    assert redriven.status_code == 200, redriven.text
    assert redriven.json() == {"redriven": [request_id]}
    wait_until(lambda: invocation(client, request_id)["status"] == "succeeded")
    assert counter.read_text() == "xxxx"
    again = client.post(f"/invocations/{request_id}/redrive")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "NotDead"


def test_a_function_error_that_clears_is_retried_to_success(
    lambda_client: LambdaClient, client: httpx.Client, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"
    event = {"path": str(counter), "fail_times": 2}
    response = lambda_client.invoke(
        FunctionName="flaky", InvocationType="Event", Payload=json.dumps(event).encode()
    )
    request_id = response["ResponseMetadata"]["RequestId"]

    wait_until(lambda: invocation(client, request_id)["status"] == "succeeded")
    assert invocation(client, request_id)["attempts"] == 3
    # The last failure stays on record beside the success.
    assert "failing on call 2" in invocation(client, request_id)["error"]


def test_an_unknown_invocation_is_404(client: httpx.Client) -> None:
    response = client.get("/invocations/no-such-id")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "AsyncInvocationNotFound"


def test_redrive_all_needs_a_json_body_of_the_right_shape(client: httpx.Client) -> None:
    response = client.post("/invocations/redrive", content=b'{"request_ids": "one"}')
    assert response.status_code == 422


def test_a_redrive_body_over_the_limit_is_413_and_redrives_nothing(
    lambda_client: LambdaClient, client: httpx.Client
) -> None:
    response = lambda_client.invoke(FunctionName="raises", InvocationType="Event")
    request_id = response["ResponseMetadata"]["RequestId"]
    wait_until(lambda: invocation(client, request_id)["status"] == "dead")
    ids = [f"id-{n:07d}" for n in range(100_000)]  # 1.4 MB of JSON, over 1 MiB

    refused = client.post("/invocations/redrive", json={"request_ids": ids})

    assert refused.status_code == 413
    assert invocation(client, request_id)["status"] == "dead"  # not re-driven as "all"


# -- Client context and aliases ------------------------------------------------------------


def test_a_client_context_that_is_not_base64_json_is_refused(
    lambda_client: LambdaClient,
) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException) as info:
        lambda_client.invoke(FunctionName="context", Payload=b"{}", ClientContext="%%%")
    assert "Client context" in info.value.response["Error"]["Message"]
    not_an_object = base64.b64encode(b"[1, 2]").decode()
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName="context", Payload=b"{}", ClientContext=not_an_object)


@pytest.mark.parametrize(
    ("function_name", "qualifier"),
    [("context", "prod"), ("context:prod", None), (f"{ACCOUNT_ARN}:context:prod", None)],
)
def test_a_declared_alias_reaches_the_function(
    lambda_client: LambdaClient, function_name: str, qualifier: str | None
) -> None:
    if qualifier is None:
        response = lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    else:
        response = lambda_client.invoke(
            FunctionName=function_name, Payload=b"{}", Qualifier=qualifier
        )

    fields = json.loads(response["Payload"].read())
    assert fields["invoked_function_arn"] == f"{ACCOUNT_ARN}:context:prod"


def test_a_name_and_a_qualifier_that_disagree_are_refused(lambda_client: LambdaClient) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName="context:prod", Payload=b"{}", Qualifier="$LATEST")


# -- ListFunctions and GetFunction -----------------------------------------------------------


def test_list_functions_returns_every_declared_function(lambda_client: LambdaClient) -> None:
    functions = lambda_client.list_functions()["Functions"]

    by_name = {f["FunctionName"]: f for f in functions}
    assert {"echo", "context", "record", "sleeps"} <= set(by_name)
    context = by_name["context"]
    assert context["FunctionArn"] == f"{ACCOUNT_ARN}:context"
    assert context["Handler"] == "handlers:context_fields"
    assert context["Runtime"] == "python3.11"
    assert context["MemorySize"] == 256
    assert context["Timeout"] == 30
    assert context["State"] == "Active"
    assert "Environment" not in context  # values may be secrets


def test_list_functions_pages_with_max_items_and_marker(lambda_client: LambdaClient) -> None:
    everything = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    first = lambda_client.list_functions(MaxItems=2)
    rest = lambda_client.list_functions(Marker=first["NextMarker"])

    assert [f["FunctionName"] for f in first["Functions"]] == everything[:2]
    assert [f["FunctionName"] for f in rest["Functions"]] == everything[2:]
    paginated = [
        f["FunctionName"]
        for page in lambda_client.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 3}
        )
        for f in page["Functions"]
    ]
    assert paginated == everything


def test_get_function_describes_one_function(lambda_client: LambdaClient) -> None:
    described = lambda_client.get_function(FunctionName="context")

    assert described["Configuration"]["FunctionName"] == "context"
    assert described["Configuration"]["Version"] == "$LATEST"
    aliased = lambda_client.get_function(FunctionName="context", Qualifier="prod")
    assert aliased["Configuration"]["FunctionArn"] == f"{ACCOUNT_ARN}:context:prod"


def test_get_function_of_an_unknown_function_or_alias_is_not_found(
    lambda_client: LambdaClient,
) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName="no-such-function")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName="context", Qualifier="staging")


# -- Durability ------------------------------------------------------------------------------


def test_events_queued_when_the_gateway_stops_all_run_after_it_restarts(
    tmp_path: Path,
) -> None:
    """Events are accepted by one gateway process and, after it is killed before running
    them, delivered by the next one on the same SQLite file."""
    store = f"sqlite:///{tmp_path / 'runs.sqlite3'}"
    path = tmp_path / "ran.jsonl"
    # The record function sleeps first, so the events are still queued when the gateway
    # is killed: 20 events on one worker, 0.5 s each.
    env = {"LOCKGATE_RUN_STORE": store, "LOCKGATE_ASYNC_CONCURRENCY": "1"}
    with GatewayProcess(APP_DIR / "lockgate.toml", env=env) as first:
        client = lambda_client_for(first.url)
        ids = [
            client.invoke(
                FunctionName="record",
                InvocationType="Event",
                Payload=json.dumps({"path": str(path), "n": n, "sleep": 0.5}).encode(),
            )["ResponseMetadata"]["RequestId"]
            for n in range(20)
        ]
        client.close()
        first.send_signal(9)
        first.wait(10)
    ran_before = {line["event"]["n"] for line in recorded(path)}
    assert len(ran_before) < 20

    with GatewayProcess(APP_DIR / "lockgate.toml", env=env) as second:
        wait_until(lambda: {line["event"]["n"] for line in recorded(path)} >= set(range(20)))
        with httpx.Client(base_url=second.url, headers=second.admin_headers) as http:

            def all_succeeded() -> bool:
                return all(invocation(http, rid)["status"] == "succeeded" for rid in ids)

            wait_until(all_succeeded)


def test_sdks_reach_the_gateway_through_aws_endpoint_url_lambda(gateway: GatewayProcess) -> None:
    """What docs/how-to/aws-tools.md tells AWS tooling users: no code change, one
    environment variable."""
    script = (
        "import boto3, json; c = boto3.client('lambda'); "
        "print(json.dumps([f['FunctionName'] for f in c.list_functions()['Functions']]))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL_LAMBDA": gateway.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert "echo" in json.loads(done.stdout)
