"""The access gate with SigV4 on a loopback listener, through the ASGI app: anonymous callers
keep the Lambda API, but a signature presented is checked once keys are declared (and
stands for no credential when none are); a signed body reaches the Invoke API replayed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.types import Message

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.errors import ConfigError
from lockgate.gateways.stores.secrets.env import EnvironmentSecrets
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.security.config import SecurityConfig
from lockgate.models.security.sigv4 import AwsCredential
from tests.support import make_function

BASE = "http://127.0.0.1"
KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CI = AwsCredential("ci", KEY, "ci_aws_secret", ("echo",))
LIST = "/2015-03-31/functions/"
INVOKE = "/2015-03-31/functions/echo/invocations"


def signed(
    method: str, path: str, body: bytes = b"", key: str = KEY, **headers: str
) -> dict[str, str]:
    request = AWSRequest(method, BASE + path, headers=headers, data=body)
    SigV4Auth(Credentials(key, SECRET), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers.items())


async def client_for(keys: tuple[AwsCredential, ...]) -> AsyncIterator[httpx.AsyncClient]:
    config = GatewayConfig(
        functions={"echo": make_function("echo"), "pid": make_function("pid")},
        security=SecurityConfig(aws_credentials=keys),
    )
    secrets = EnvironmentSecrets({"LOCKGATE_SECRET_CI_AWS_SECRET": SECRET})
    application = build(Settings(run_store="memory://"), config, secret_manager=secrets)
    transport = httpx.ASGITransport(app=create_app(application))
    async with application, httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


@pytest.fixture
async def with_keys() -> AsyncIterator[httpx.AsyncClient]:
    async for http in client_for((CI,)):
        yield http


@pytest.fixture
async def without_keys() -> AsyncIterator[httpx.AsyncClient]:
    async for http in client_for(()):
        yield http


async def test_without_keys_boto3s_dummy_signature_is_anonymous_on_loopback(
    without_keys: httpx.AsyncClient,
) -> None:
    dummy = signed("GET", LIST, key="AKIDUMMYDUMMYDUMMY00")
    listed = await without_keys.get(LIST, headers=dummy)
    assert listed.status_code == 200, listed.text
    assert {f["FunctionName"] for f in listed.json()["Functions"]} == {"echo", "pid"}


async def test_with_keys_a_signature_is_checked_even_where_anonymous_callers_may_call(
    with_keys: httpx.AsyncClient,
) -> None:
    assert (await with_keys.get(LIST)).status_code == 200  # unsigned: anonymous, as before
    unknown = await with_keys.get(LIST, headers=signed("GET", LIST, key="AKIDUMMYDUMMYDUMMY00"))
    assert unknown.status_code == 403
    assert unknown.headers["x-amzn-errortype"] == "UnrecognizedClientException"
    mine = await with_keys.get(LIST, headers=signed("GET", LIST))
    assert [f["FunctionName"] for f in mine.json()["Functions"]] == ["echo"]
    # A signature elsewhere than the Lambda API proves nothing: anonymous there.
    assert (await with_keys.get("/runs", headers=signed("GET", "/runs"))).status_code == 200


async def test_the_invoke_api_reads_the_signed_body_replayed(
    with_keys: httpx.AsyncClient,
) -> None:
    dry_run = {"X-Amz-Invocation-Type": "DryRun"}
    checked = await with_keys.post(
        INVOKE, content=b'{"a": 1}', headers=signed("POST", INVOKE, b'{"a": 1}', **dry_run)
    )
    assert checked.status_code == 204, checked.text
    broken = await with_keys.post(
        INVOKE, content=b"{not json", headers=signed("POST", INVOKE, b"{not json", **dry_run)
    )
    assert broken.status_code == 400  # the Invoke API parsed the very bytes that were signed
    assert broken.headers["x-amzn-errortype"] == "InvalidRequestContentException"


async def test_an_embedded_gateway_will_not_start_with_a_key_whose_secret_is_missing() -> None:
    config = GatewayConfig(security=SecurityConfig(aws_credentials=(CI,)))
    application = build(
        Settings(run_store="memory://"), config, secret_manager=EnvironmentSecrets({})
    )
    with pytest.raises(
        ConfigError, match=r"aws_credentials\.ci: cannot read its secret .ci_aws_secret."
    ):
        await application.start()
    assert not application.started


async def test_a_reload_adding_keys_to_a_gateway_without_secrets_is_refused() -> None:
    application = build(Settings(run_store="memory://"))
    async with application:
        assert application.secret_manager is None
        with pytest.raises(ConfigError, match="runs without secrets"):
            application.apply(GatewayConfig(security=SecurityConfig(aws_credentials=(CI,))))
        assert application.security.aws_credentials == ()


async def test_a_client_gone_before_its_signed_body_is_logged_once_and_not_admitted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = GatewayConfig(
        functions={"echo": make_function("echo")}, security=SecurityConfig(aws_credentials=(CI,))
    )
    secrets = EnvironmentSecrets({"LOCKGATE_SECRET_CI_AWS_SECRET": SECRET})
    application = build(Settings(run_store="memory://"), config, secret_manager=secrets)
    app = create_app(application)
    headers = signed("POST", INVOKE, b'{"a": 1}')
    scope = {
        "type": "http",
        "method": "POST",
        "path": INVOKE,
        "raw_path": INVOKE.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50123),
    }
    sent: list[Message] = []

    async def gone() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async with application:
        with caplog.at_level(logging.INFO):
            await app(scope, gone, send)
    lines = [r for r in caplog.records if "went away before its request body" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert sent[0]["status"] == 403  # written to nobody; the request was never admitted
