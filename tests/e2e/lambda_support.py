"""What the Lambda end-to-end tests share: a boto3 client for a gateway, and the gateway's
record of an Event invocation."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
from botocore.config import Config
from mypy_boto3_lambda import LambdaClient

from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_until

__all__ = ["invocation", "lambda_client_for", "wait_until_event"]


def lambda_client_for(url: str) -> LambdaClient:
    """A boto3 Lambda client for the gateway at ``url`` that never retries."""
    client: LambdaClient = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
    return client


def invocation(client: httpx.Client, request_id: str) -> dict[str, Any]:
    """``GET /invocations/{request_id}``, which must answer 200."""
    response = client.get(f"/invocations/{request_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def wait_until_event(gateway: GatewayProcess, request_id: str, status: str) -> None:
    """Poll ``gateway`` (as its operator) until the Event invocation is in ``status``."""
    with httpx.Client(base_url=gateway.url, timeout=10, headers=gateway.admin_headers) as client:
        wait_until(lambda: invocation(client, request_id)["status"] == status)
