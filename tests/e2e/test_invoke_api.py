"""The AWS Lambda Invoke API, exercised through boto3 itself against a real gateway process.

Every expectation here is what AWS Lambda returns to boto3 (botocore's service model for
``Invoke`` and AWS's documented responses), not merely what Lockgate happens to do: a
boto3 user pointed at Lockgate must see the same status codes, headers, modelled
exceptions and error payloads.

The client never retries (``total_max_attempts=1``), so a throttle, a crash or a timeout
cannot be hidden behind a second, successful attempt.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, cast

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from mypy_boto3_lambda import LambdaClient
from mypy_boto3_lambda.type_defs import InvocationRequestTypeDef, InvocationResponseTypeDef

from tests.e2e.gateway_process import GatewayProcess, alive, children_of
from tests.support import wait_until

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
MAX_BODY_BYTES = 1024 * 1024  # [gateway] max_body_bytes in tests/e2e/app/lockgate.toml
TAIL_LIMIT = 4096  # "The last 4 KB of the execution log"


@pytest.fixture(scope="module")
def lambda_client(gateway: GatewayProcess) -> Iterator[LambdaClient]:
    # ``retries={"max_attempts": 1}`` would still allow one retry: botocore's client-config
    # ``max_attempts`` counts retries, not attempts. ``total_max_attempts=1`` means none.
    config = Config(retries={"total_max_attempts": 1}, read_timeout=60, connect_timeout=10)
    client: LambdaClient = boto3.client(
        "lambda",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )
    yield client
    client.close()


def payload_of(response: InvocationResponseTypeDef) -> Any:
    return json.loads(response["Payload"].read())


def request_id_of(response: InvocationResponseTypeDef) -> str:
    return response["ResponseMetadata"]["RequestId"]


def modelled_fields(error: ClientError) -> Mapping[str, Any]:
    """The parsed error, including the modelled exception members botocore adds at the top."""
    return cast("Mapping[str, Any]", error.response)


def optional(response: InvocationResponseTypeDef, member: str) -> Any:
    """A response member that AWS leaves out when it does not apply (the stubs mark all)."""
    return cast("Mapping[str, Any]", response).get(member)


def tail_of(response: InvocationResponseTypeDef) -> str:
    return base64.b64decode(response["LogResult"], validate=True).decode()


def assert_unhandled(response: InvocationResponseTypeDef, error_type: str) -> dict[str, Any]:
    """A function error: HTTP 200, ``X-Amz-Function-Error: Unhandled``, an error payload."""
    assert response["StatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert optional(response, "FunctionError") == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    error = payload_of(response)
    assert isinstance(error, dict)
    assert error["errorType"] == error_type
    assert isinstance(error["errorMessage"], str)
    return error


def assert_echo_works(client: LambdaClient) -> None:
    response = client.invoke(FunctionName="echo", Payload=b'{"still": "serving"}')
    assert response["StatusCode"] == 200
    assert optional(response, "FunctionError") is None
    assert payload_of(response) == {
        "event": {"still": "serving"},
        "request_id": request_id_of(response),
    }


# -- RequestResponse ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"text": "héllo ✓", "numbers": [1, 2.5, -3], "nested": {"null": None, "flag": True}},
        ["a", "list", 1],
        "a string",
        42,
        None,
    ],
    ids=["object", "array", "string", "number", "null"],
)
def test_request_response_round_trips_the_payload(lambda_client: LambdaClient, event: Any) -> None:
    response = lambda_client.invoke(FunctionName="echo", Payload=json.dumps(event).encode())

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert optional(response, "FunctionError") is None
    assert optional(response, "LogResult") is None  # only with LogType="Tail"
    assert payload_of(response) == {"event": event, "request_id": request_id_of(response)}


def test_an_async_handler_is_awaited(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(FunctionName="async_echo", Payload=b'{"n": 1}')

    assert response["StatusCode"] == 200
    assert optional(response, "FunctionError") is None
    assert payload_of(response) == {"async": True, "event": {"n": 1}}


def test_the_context_carries_the_function_and_the_request(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(FunctionName="context", Payload=b"{}")

    assert response["StatusCode"] == 200
    fields = payload_of(response)
    assert fields["function_name"] == "context"
    assert fields["memory_limit_in_mb"] == "256"  # a string, as awslambdaric gives it
    assert fields["invoked_function_arn"] == f"{ACCOUNT_ARN}:context"
    assert 0 < fields["remaining_ms"] <= 30_000
    assert fields["aws_request_id"] == request_id_of(response)
    assert fields["greeting"] == "hello"
    assert fields["client_context_custom"] is None


def test_each_invocation_has_its_own_request_id(lambda_client: LambdaClient) -> None:
    first = lambda_client.invoke(FunctionName="context", Payload=b"{}")
    second = lambda_client.invoke(FunctionName="context", Payload=b"{}")

    assert payload_of(first)["aws_request_id"] == request_id_of(first)
    assert payload_of(second)["aws_request_id"] == request_id_of(second)
    assert request_id_of(first) != request_id_of(second)


def test_client_context_reaches_the_handler(lambda_client: LambdaClient) -> None:
    client_context = {
        "client": {"app_title": "tests"},
        "custom": {"tenant": "acme", "tier": 3},
        "env": {"platform": "pytest"},
    }
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()

    response = lambda_client.invoke(FunctionName="context", Payload=b"{}", ClientContext=encoded)

    assert response["StatusCode"] == 200
    assert payload_of(response)["client_context_custom"] == {"tenant": "acme", "tier": 3}


# -- Function name forms and qualifiers ---------------------------------------------------


@pytest.mark.parametrize(
    ("function_name", "qualifier"),
    [
        ("echo", None),
        ("echo:$LATEST", None),
        (f"{ACCOUNT_ARN}:echo", None),
        (f"{ACCOUNT_ARN}:echo:$LATEST", None),
        ("000000000000:function:echo", None),
        ("echo", "$LATEST"),
        (f"{ACCOUNT_ARN}:echo", "$LATEST"),
    ],
    ids=[
        "name",
        "name-with-latest",
        "arn",
        "arn-with-latest",
        "partial-arn",
        "qualifier-latest",
        "arn-and-qualifier-latest",
    ],
)
def test_every_name_form_reaches_the_function(
    lambda_client: LambdaClient, function_name: str, qualifier: str | None
) -> None:
    request: InvocationRequestTypeDef = {
        "FunctionName": function_name,
        "Payload": json.dumps({"form": function_name}).encode(),
    }
    if qualifier is not None:
        request["Qualifier"] = qualifier

    response = lambda_client.invoke(**request)

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload_of(response) == {
        "event": {"form": function_name},
        "request_id": request_id_of(response),
    }


@pytest.mark.parametrize(
    ("function_name", "qualifier"),
    [("echo", "v9"), ("echo:v9", None), ("echo", "7"), (f"{ACCOUNT_ARN}:echo:live", None)],
    ids=["qualifier-alias", "inline-alias", "qualifier-version", "arn-alias"],
)
def test_an_unknown_qualifier_is_resource_not_found(
    lambda_client: LambdaClient, function_name: str, qualifier: str | None
) -> None:
    request: InvocationRequestTypeDef = {"FunctionName": function_name, "Payload": b"{}"}
    if qualifier is not None:
        request["Qualifier"] = qualifier

    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as info:
        lambda_client.invoke(**request)

    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    alias = qualifier if qualifier is not None else function_name.rsplit(":", 1)[1]
    assert error["Error"]["Message"] == f"Function not found: {ACCOUNT_ARN}:echo:{alias}"


# -- DryRun -------------------------------------------------------------------------------


def test_dry_run_answers_204_without_a_payload(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(
        FunctionName="echo", InvocationType="DryRun", Payload=b'{"a": 1}'
    )

    assert response["StatusCode"] == 204
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert optional(response, "FunctionError") is None
    assert response["Payload"].read() == b""


def test_dry_run_of_an_unknown_function_is_resource_not_found(
    lambda_client: LambdaClient,
) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as info:
        lambda_client.invoke(FunctionName="no-such-function", InvocationType="DryRun")

    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- LogType="Tail" -----------------------------------------------------------------------


def test_log_tail_holds_the_lambda_log_lines_and_the_handler_output(
    lambda_client: LambdaClient,
) -> None:
    response = lambda_client.invoke(FunctionName="raises", Payload=b"{}", LogType="Tail")

    request_id = request_id_of(response)
    assert len(base64.b64decode(response["LogResult"])) <= TAIL_LIMIT
    tail = tail_of(response)
    start = tail.index(f"START RequestId: {request_id}")
    printed = tail.index("about to fail\n")
    error = tail.index("ValueError: the handler refused")
    end = tail.index(f"END RequestId: {request_id}")
    report = tail.index(f"REPORT RequestId: {request_id}")
    assert start < printed < error < end < report
    assert tail.endswith("\n")


def test_log_tail_of_a_successful_call(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(FunctionName="echo", Payload=b"{}", LogType="Tail")

    request_id = request_id_of(response)
    assert optional(response, "FunctionError") is None
    tail = tail_of(response)
    assert tail.startswith(f"START RequestId: {request_id}")
    assert f"END RequestId: {request_id}" in tail
    assert tail.splitlines()[-1].startswith(f"REPORT RequestId: {request_id}\t")


def test_log_tail_of_a_chatty_function_is_its_last_four_kilobytes(
    lambda_client: LambdaClient,
) -> None:
    response = lambda_client.invoke(FunctionName="chatty", Payload=b"{}", LogType="Tail")

    assert response["StatusCode"] == 200
    assert optional(response, "FunctionError") is None
    assert payload_of(response) == {"printed": 4 * 1024 * 1024}
    request_id = request_id_of(response)
    raw_tail = base64.b64decode(response["LogResult"])
    assert 0 < len(raw_tail) <= TAIL_LIMIT
    tail = raw_tail.decode()
    assert f"the last line\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\t" in tail
    assert tail.splitlines()[-1].startswith(f"REPORT RequestId: {request_id}\t")
    assert "START RequestId" not in tail  # 4 MB of output pushed it out of the last 4 KB


# -- Function errors: HTTP 200 with X-Amz-Function-Error ------------------------------------


def test_a_handler_exception_is_an_unhandled_function_error(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(FunctionName="raises", Payload=b"{}")

    error = assert_unhandled(response, "ValueError")
    assert error["errorMessage"] == "the handler refused"
    trace = error["stackTrace"]
    assert isinstance(trace, list)
    assert trace
    assert all(isinstance(frame, str) for frame in trace)
    assert "handlers.py" in trace[-1]
    assert 'raise ValueError("the handler refused")' in trace[-1]
    assert not any("lockgate" in frame for frame in trace)  # only the function's own frames


def test_a_timeout_is_sandbox_timedout_and_the_worker_is_replaced(
    lambda_client: LambdaClient, gateway: GatewayProcess
) -> None:
    warm = lambda_client.invoke(FunctionName="sleeps", Payload=b'{"seconds": 0}')
    assert optional(warm, "FunctionError") is None
    old_pid = payload_of(warm)["pid"]
    assert old_pid in children_of(gateway.pid)

    started = time.monotonic()
    response = lambda_client.invoke(FunctionName="sleeps", Payload=b'{"seconds": 30}')
    elapsed = time.monotonic() - started

    error = assert_unhandled(response, "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert error["errorMessage"].startswith(f"RequestId: {request_id_of(response)} ")
    assert 0.9 <= elapsed < 10  # answered at the deadline, not when the handler would end

    wait_until(lambda: not alive(old_pid), 10, what="the timed-out worker gone")

    again = lambda_client.invoke(FunctionName="sleeps", Payload=b'{"seconds": 0}')
    assert optional(again, "FunctionError") is None
    result = payload_of(again)
    assert result["slept"] is True
    assert result["pid"] != old_pid
    assert result["pid"] in children_of(gateway.pid)


@pytest.mark.parametrize(
    ("function_name", "how"),
    [("exits", "exit status 3"), ("killed", "signal: killed")],
)
def test_a_worker_that_dies_is_a_runtime_exit_error(
    lambda_client: LambdaClient, function_name: str, how: str
) -> None:
    response = lambda_client.invoke(FunctionName=function_name, Payload=b"{}")

    error = assert_unhandled(response, "Runtime.ExitError")
    assert error["errorMessage"] == (
        f"RequestId: {request_id_of(response)} Error: Runtime exited with error: {how}"
    )
    assert response["ResponseMetadata"]["RetryAttempts"] == 0

    # A fresh worker runs the next call (and dies the same way): no dead worker is reused.
    again = lambda_client.invoke(FunctionName=function_name, Payload=b"{}")
    assert_unhandled(again, "Runtime.ExitError")
    assert request_id_of(again) != request_id_of(response)

    assert_echo_works(lambda_client)
    pid_response = lambda_client.invoke(FunctionName="pid", Payload=b"{}")
    assert optional(pid_response, "FunctionError") is None
    assert isinstance(payload_of(pid_response)["pid"], int)


def test_an_unserialisable_result_is_a_marshal_error(lambda_client: LambdaClient) -> None:
    response = lambda_client.invoke(FunctionName="not_json", Payload=b"{}")

    error = assert_unhandled(response, "Runtime.MarshalError")
    assert error["errorMessage"].startswith("Unable to marshal response")

    assert_echo_works(lambda_client)


def test_an_import_failure_is_an_import_module_error_and_shows_in_health(
    lambda_client: LambdaClient, client: httpx.Client
) -> None:
    response = lambda_client.invoke(FunctionName="broken", Payload=b"{}")

    error = assert_unhandled(response, "Runtime.ImportModuleError")
    assert (
        error["errorMessage"]
        == "Unable to import module 'broken': this module is broken on purpose"
    )

    health = client.get("/health")
    assert health.status_code == 200
    broken = health.json()["functions"]["broken"]
    assert broken["status"] == "unhealthy"
    assert "ImportModuleError" in broken["last_init_error"]
    assert "this module is broken on purpose" in broken["last_init_error"]

    assert_echo_works(lambda_client)


# -- Errors that prevent the run: modelled boto3 exceptions ---------------------------------


def test_a_body_that_is_not_json_is_invalid_request_content(lambda_client: LambdaClient) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException) as info:
        lambda_client.invoke(FunctionName="echo", Payload=b"not json")

    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert error["Error"]["Message"].startswith("Could not parse request body into json")
    assert modelled_fields(info.value).get("Type") == "User"


def test_an_unknown_function_is_resource_not_found(lambda_client: LambdaClient) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as info:
        lambda_client.invoke(FunctionName="no-such-function", Payload=b"{}")

    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == f"Function not found: {ACCOUNT_ARN}:no-such-function"
    assert modelled_fields(info.value).get("Type") == "User"


def test_resource_not_found_carries_the_modelled_message_member(
    lambda_client: LambdaClient,
) -> None:
    """AWS sends ``{"Message": ..., "Type": "User"}`` (capital M, as the model declares).

    botocore copies modelled members to the top of ``exc.response``; a client that reads
    ``exc.response["Message"]`` gets a KeyError if the body says ``message`` instead.
    """
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as info:
        lambda_client.invoke(FunctionName="no-such-function", Payload=b"{}")

    assert modelled_fields(info.value).get("Message") == (
        f"Function not found: {ACCOUNT_ARN}:no-such-function"
    )


def test_a_body_over_the_limit_is_request_too_large(lambda_client: LambdaClient) -> None:
    oversized = json.dumps({"blob": "a" * MAX_BODY_BYTES}).encode()
    assert len(oversized) > MAX_BODY_BYTES

    with pytest.raises(lambda_client.exceptions.RequestTooLargeException) as info:
        lambda_client.invoke(FunctionName="echo", Payload=oversized)

    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestTooLargeException"
    assert_echo_works(lambda_client)


def test_a_body_just_under_the_limit_is_accepted(lambda_client: LambdaClient) -> None:
    blob = "a" * (MAX_BODY_BYTES - 1024)
    response = lambda_client.invoke(FunctionName="echo", Payload=json.dumps({"blob": blob}))

    assert response["StatusCode"] == 200
    assert payload_of(response)["event"] == {"blob": blob}


@dataclass(frozen=True)
class Outcome:
    payload: Any = None
    error: ClientError | None = None


def test_a_flood_beyond_the_queue_is_throttled_with_retry_after(
    lambda_client: LambdaClient,
) -> None:
    callers = 6  # narrow: max_capacity 1, max_queue 2, and each call takes 2 s
    barrier = threading.Barrier(callers)

    def call() -> Outcome:
        barrier.wait(timeout=10)
        try:
            response = lambda_client.invoke(FunctionName="narrow", Payload=b'{"seconds": 2}')
        except ClientError as exc:
            return Outcome(error=exc)
        assert optional(response, "FunctionError") is None
        return Outcome(payload=payload_of(response))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        futures = [pool.submit(call) for _ in range(callers)]
        done, not_done = wait(futures, timeout=45)
        assert not not_done, f"{len(not_done)} invocations still hang after 45 s"
    outcomes = [future.result() for future in done]
    assert time.monotonic() - started < 45

    completed = [o.payload for o in outcomes if o.error is None]
    throttled = [o.error for o in outcomes if o.error is not None]
    assert len(completed) + len(throttled) == callers
    assert throttled, "no call was throttled"
    # One runs, two wait; all six arrived within the first call's 2 s, so no more than 3 ran.
    assert 1 <= len(completed) <= 3
    assert all(payload["slept"] is True for payload in completed)
    for error in throttled:
        parsed = error.response
        assert parsed["Error"]["Code"] == "TooManyRequestsException"
        assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert parsed["ResponseMetadata"]["RetryAttempts"] == 0
        retry_after = parsed["ResponseMetadata"]["HTTPHeaders"].get("retry-after")
        assert retry_after is not None, "429 without a Retry-After header"
        assert retry_after.isdigit()
        assert int(retry_after) >= 1
        fields = modelled_fields(error)
        assert fields.get("retryAfterSeconds") == retry_after
        assert fields.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert fields.get("Type") == "User"

    # Once the flood drains, the function takes calls again.
    response = lambda_client.invoke(FunctionName="narrow", Payload=b'{"seconds": 0}')
    assert optional(response, "FunctionError") is None
    assert payload_of(response)["slept"] is True


@pytest.mark.parametrize(
    ("function_name", "qualifier", "arn_suffix"),
    [
        ("context", None, ":context"),
        ("context", "$LATEST", ":context:$LATEST"),
        ("context:$LATEST", None, ":context:$LATEST"),
    ],
)
def test_the_invoked_arn_carries_the_qualifier_the_caller_named(
    lambda_client: LambdaClient, function_name: str, qualifier: str | None, arn_suffix: str
) -> None:
    request: InvocationRequestTypeDef = {"FunctionName": function_name, "Payload": b"{}"}
    if qualifier is not None:
        request["Qualifier"] = qualifier
    fields = payload_of(lambda_client.invoke(**request))
    assert fields["invoked_function_arn"] == f"{ACCOUNT_ARN}{arn_suffix}"
