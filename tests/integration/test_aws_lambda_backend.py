"""``AWSLambdaInvocationBackend`` against moto's Lambda, a real HTTP server on loopback.

moto's simple Lambda backend (``use_docker: false``) answers an invocation with its payload,
or with results queued through ``/moto-api``; only its Docker backend looks the function up,
so the unknown-function test switches to it (it fails before any Docker is needed).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest

from lockgate.errors import InvocationTimeoutError, RemoteInvocationError, TooManyRequestsError
from lockgate.gateways.aws.lambda_backend import AWSLambdaInvocationBackend
from lockgate.gateways.interfaces import IInvocationBackend
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation
from tests.moto_server import MotoServer, moto_server
from tests.servers import free_port, silent_listener
from tests.support import eventually

__all__ = ["moto_server"]


@pytest.fixture
def simple_lambda(moto_server: MotoServer) -> MotoServer:
    moto_server.configure(**{"lambda": {"use_docker": False}})
    return moto_server


@pytest.fixture
def echo_arn(simple_lambda: MotoServer) -> str:
    try:
        return simple_lambda.create_function("echo")
    except simple_lambda.client("lambda").exceptions.ResourceConflictException:
        arn: str = simple_lambda.client("lambda").get_function(FunctionName="echo")[
            "Configuration"
        ]["FunctionArn"]
        return arn


@pytest.fixture
async def backend(moto_server: MotoServer) -> AsyncIterator[AWSLambdaInvocationBackend]:
    gateway = AWSLambdaInvocationBackend(moto_server.client("lambda", read_timeout=30))
    yield gateway
    await gateway.close()


def aws_function(
    arn: str, *, timeout: float = 30.0, aliases: tuple[str, ...] = ()
) -> FunctionEntity:
    return FunctionEntity(
        name="remote", backend="aws-lambda", aws_arn=arn, timeout_seconds=timeout, aliases=aliases
    )


def invocation(
    function: FunctionEntity, payload: bytes, qualifier: str | None = None
) -> WorkerInvocation:
    return WorkerInvocation(
        request_id="req-1",
        payload=payload,
        deadline_epoch_ms=int((time.time() + function.timeout_seconds) * 1000),
        invoked_function_arn=f"{function.arn}:{qualifier}" if qualifier else function.arn,
    )


def lambda_threads() -> set[threading.Thread]:
    """The AWS Lambda client's threads alive now (a count would miss a new one starting
    while an earlier test's last one ends)."""
    return {thread for thread in threading.enumerate() if thread.name == "lockgate-aws-lambda"}


def deadline(function: FunctionEntity) -> float:
    return time.monotonic() + function.timeout_seconds


async def test_the_payload_makes_the_round_trip(
    backend: AWSLambdaInvocationBackend, echo_arn: str
) -> None:
    assert isinstance(backend, IInvocationBackend)
    function = aws_function(echo_arn)
    payload = '{"greeting": "héllo", "n": [1, 2, 3]}'.encode()
    reply, cold = await backend.invoke(function, invocation(function, payload), deadline(function))
    assert reply.payload == payload
    assert reply.error is None
    assert cold is False


async def test_the_answer_is_what_lambda_returned(
    backend: AWSLambdaInvocationBackend, echo_arn: str, simple_lambda: MotoServer
) -> None:
    simple_lambda.queue_lambda_results('{"from": "moto"}', '"second"')
    function = aws_function(echo_arn, aliases=("prod",))
    first, _ = await backend.invoke(function, invocation(function, b"{}"), deadline(function))
    second, _ = await backend.invoke(
        function, invocation(function, b"{}", qualifier="prod"), deadline(function)
    )
    assert (first.payload, second.payload) == (b'{"from": "moto"}', b'"second"')


async def test_a_client_made_from_settings(simple_lambda: MotoServer, echo_arn: str) -> None:
    gateway = AWSLambdaInvocationBackend(
        session=simple_lambda.session(), region="us-east-1", endpoint_url=simple_lambda.url
    )
    function = aws_function(echo_arn)
    try:
        reply, _ = await gateway.invoke(function, invocation(function, b"[1]"), deadline(function))
    finally:
        await gateway.close()
    assert reply.payload == b"[1]"


async def test_an_unknown_function_is_resource_not_found(
    backend: AWSLambdaInvocationBackend, moto_server: MotoServer
) -> None:
    # Only moto's Docker backend looks the function up; it fails before needing Docker.
    moto_server.configure(**{"lambda": {"use_docker": True}})
    missing = "arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
    function = aws_function(missing)
    with pytest.raises(RemoteInvocationError) as caught:
        await backend.invoke(function, invocation(function, b"{}"), deadline(function))
    assert caught.value.remote_code == "ResourceNotFoundException"
    assert missing in caught.value.message
    assert caught.value.retryable is False


async def test_an_endpoint_nobody_listens_on_is_retryable() -> None:
    # Connection refused on loopback: the request never left this machine.
    gateway = AWSLambdaInvocationBackend(
        session=MotoServer().session(), endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    function = aws_function("arn:aws:lambda:us-east-1:123456789012:function:echo")
    with pytest.raises(RemoteInvocationError) as caught:
        await gateway.invoke(function, invocation(function, b"{}"), deadline(function))
    await gateway.close()
    assert caught.value.retryable is True
    assert caught.value.remote_code == "EndpointConnectionError"


async def test_the_deadline_passing_while_aws_runs_it_is_a_timeout() -> None:
    with silent_listener() as port:  # takes the request, never answers
        gateway = AWSLambdaInvocationBackend(
            session=MotoServer().session(), endpoint_url=f"http://127.0.0.1:{port}"
        )
        function = aws_function("arn:aws:lambda:us-east-1:123456789012:function:slow", timeout=0.5)
        with pytest.raises(InvocationTimeoutError, match=r"Task timed out after 0\.50 seconds"):
            await gateway.invoke(function, invocation(function, b"{}"), deadline(function))
        await gateway.close()


async def test_waiting_for_a_slot_past_the_deadline_is_throttling() -> None:
    with silent_listener() as port:
        gateway = AWSLambdaInvocationBackend(
            session=MotoServer().session(),
            endpoint_url=f"http://127.0.0.1:{port}",
            max_concurrency=1,
        )
        slow = aws_function("arn:aws:lambda:us-east-1:123456789012:function:slow", timeout=60)
        before = lambda_threads()
        hog = asyncio.create_task(gateway.invoke(slow, invocation(slow, b"{}"), deadline(slow)))
        await eventually(lambda: bool(lambda_threads() - before))  # the hog holds the only slot
        quick = aws_function("arn:aws:lambda:us-east-1:123456789012:function:slow", timeout=0.3)
        with pytest.raises(TooManyRequestsError, match="could not be sent"):
            await gateway.invoke(quick, invocation(quick, b"{}"), deadline(quick))
        hog.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hog
        await gateway.close()
