"""moto as a real HTTP server on loopback, for the AWS gateways' tests (never AWS itself).

Import the fixture into a test module (``from tests.moto_server import moto_server``). The
server runs in this process (``ThreadedMotoServer``), so its settings (``/moto-api/config``)
are process-wide: the fixture restores moto's defaults and resets its state when the module
is done. Clients get fake credentials through their own arguments; the environment and
``~/.aws`` are never read or touched.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from tests.servers import free_port

__all__ = ["REGION", "MotoServer", "fake_credentials", "moto_server"]

REGION = "us-east-1"
_DEFAULTS = {"batch": {"use_docker": True}, "lambda": {"use_docker": True}}


def fake_credentials() -> dict[str, str]:
    return {
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_session_token": "testing",
    }


class MotoServer:
    """A started moto server and the calls the tests make to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client for ``service`` on this server; botocore's retries off."""
        options: dict[str, Any] = {"retries": {"total_max_attempts": 1}}
        options.update(config)
        return boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=self.url, config=Config(**options), **fake_credentials()
        )

    def session(self) -> boto3.session.Session:
        """A boto3 session with fake credentials, for gateways that make their own client."""
        return boto3.session.Session(
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
        )

    def configure(self, **services: dict[str, Any]) -> None:
        """Set moto's per-service options, e.g. ``configure(batch={"use_docker": False})``."""
        self._post("/moto-api/config", services)

    def queue_lambda_results(self, *results: str) -> None:
        """What the next invocations of the simple Lambda backend return, in order."""
        self._post(
            "/moto-api/static/lambda-simple/response",
            {"results": list(results), "region": REGION},
        )

    def reset(self) -> None:
        self._post("/moto-api/reset", {})

    def role_arn(self, name: str = "lockgate-test-role") -> str:
        """An IAM role (Lambda functions and Batch compute environments need one)."""
        iam = self.client("iam")
        try:
            arn: str = iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        return arn

    def create_function(self, name: str) -> str:
        """A tiny Python function; returns its ARN."""
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return event\n")
        created = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self.role_arn(),
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
        )
        arn: str = created["FunctionArn"]
        return arn

    def create_batch_queue(self, name: str) -> tuple[str, str]:
        """A compute environment, a job queue and a container job definition (whose
        command sleeps, so a job Docker could run would still be going when terminated);
        returns the queue's and the definition's names."""
        batch = self.client("batch")
        environment = batch.create_compute_environment(
            computeEnvironmentName=f"{name}-ce",
            type="UNMANAGED",
            state="ENABLED",
            serviceRole=self.role_arn(),
        )
        batch.create_job_queue(
            jobQueueName=f"{name}-queue",
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}
            ],
        )
        batch.register_job_definition(
            jobDefinitionName=f"{name}-definition",
            type="container",
            containerProperties={
                "image": "busybox",
                "command": ["sleep", "600"],
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "128"},
                ],
            },
        )
        return f"{name}-queue", f"{name}-definition"

    def _post(self, path: str, body: object) -> None:
        response = httpx.post(self.url + path, json=body, timeout=10.0)
        response.raise_for_status()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        try:
            server.configure(**_DEFAULTS)
            server.reset()
        finally:
            server.stop()
