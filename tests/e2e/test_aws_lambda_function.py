"""A function moved to AWS Lambda (``backend = "aws-lambda"``): a real gateway process
invokes it on moto's Lambda, a real HTTP server on loopback, for boto3 callers, routes and
Event invocations alike; nothing else about how it is called changes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from mypy_boto3_lambda import LambdaClient

from tests.e2e.gateway_process import GatewayProcess, children_of
from tests.e2e.lambda_support import lambda_client_for, wait_until_event
from tests.moto_server import MotoServer, moto_server

__all__ = ["moto_server"]


@pytest.fixture(scope="module")
def gateway_on_aws(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    moto_server.configure(**{"lambda": {"use_docker": False}})
    arn = moto_server.create_function("thumbnails")
    folder = tmp_path_factory.mktemp("aws-app")
    config = folder / "lockgate.toml"
    config.write_text(
        f"""
[gateway]
aws_region = "us-east-1"
aws_endpoint_url = "{moto_server.url}"

[functions.thumbnails]
backend = "aws-lambda"
arn = "{arn}"
timeout = 30

[[routes]]
method = "GET"
path = "/thumbs/{{size}}"
function = "thumbnails"
"""
    )
    # The gateway finds its AWS credentials where boto3 does: here, the environment.
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": str(folder / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
    }
    with GatewayProcess(config, env=env) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def lambda_client(gateway_on_aws: GatewayProcess) -> Iterator[LambdaClient]:
    client = lambda_client_for(gateway_on_aws.url)
    yield client
    client.close()


def test_a_boto3_invoke_runs_the_function_on_aws_lambda(
    lambda_client: LambdaClient, moto_server: MotoServer
) -> None:
    moto_server.queue_lambda_results(json.dumps({"thumbnail": "cat-64.png"}))

    response = lambda_client.invoke(FunctionName="thumbnails", Payload=b'{"image": "cat.png"}')

    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"].read()) == {"thumbnail": "cat-64.png"}


def test_a_route_reaches_the_function_on_aws_lambda(
    gateway_on_aws: GatewayProcess, moto_server: MotoServer
) -> None:
    moto_server.queue_lambda_results(json.dumps({"statusCode": 201, "body": "made"}))

    response = httpx.get(f"{gateway_on_aws.url}/thumbs/64", timeout=30)

    assert (response.status_code, response.text) == (201, "made")


def test_an_event_invoke_runs_on_aws_lambda(
    lambda_client: LambdaClient, gateway_on_aws: GatewayProcess
) -> None:
    response = lambda_client.invoke(
        FunctionName="thumbnails", InvocationType="Event", Payload=b'{"image": "dog.png"}'
    )
    request_id = response["ResponseMetadata"]["RequestId"]

    assert response["StatusCode"] == 202
    wait_until_event(gateway_on_aws, request_id, "succeeded")


def test_list_functions_shows_the_aws_arn(lambda_client: LambdaClient) -> None:
    [function] = lambda_client.list_functions()["Functions"]

    assert function["FunctionName"] == "thumbnails"
    assert function["FunctionArn"].startswith("arn:aws:lambda:us-east-1:")
    assert function["FunctionArn"].endswith(":function:thumbnails")
    assert "Runtime" not in function  # AWS knows it; this gateway does not


def test_health_reports_the_function_without_a_pool(gateway_on_aws: GatewayProcess) -> None:
    health = httpx.get(f"{gateway_on_aws.url}/health", timeout=10).json()

    assert health["functions"]["thumbnails"] == {
        "status": "healthy",
        "backend": "aws-lambda",
        "breaker": "closed",
    }


def test_the_gateway_starts_no_worker_for_it(gateway_on_aws: GatewayProcess) -> None:
    assert children_of(gateway_on_aws.pid) == set()
