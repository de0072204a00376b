"""Request paths through a real ``lockgate serve``: dot segments (also percent-encoded) and
repeated slashes are resolved before routing, so they never reach a function as written.
Raw sockets, since HTTP client libraries resolve dot segments themselves."""

from __future__ import annotations

import json

import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.raw_http import RawResponse, exchange, request_bytes


def get(gateway: GatewayProcess, target: str) -> RawResponse:
    head = [("Host", "localhost"), ("Connection", "close")]
    return exchange(gateway.port, request_bytes("GET", target, head))


@pytest.mark.parametrize(
    "target",
    [
        "/echo/../secrets",
        "/echo/%2e%2e/secrets",
        "/echo/.%2E/secrets",
        "/echo/x/../../secrets",
        "/v1/a/..%2F..%2Fsecrets",
        "//echo/./../secrets",
    ],
)
def test_dot_segments_resolve_before_routing(gateway: GatewayProcess, target: str) -> None:
    served = get(gateway, target)
    secrets_api = get(gateway, "/secrets")
    assert (served.status, json.loads(served.body)) == (
        secrets_api.status,
        json.loads(secrets_api.body),
    )
    assert "event" not in json.loads(served.body)  # no function answered


@pytest.mark.parametrize(
    "target",
    ["/v1/a/../b/c", "/v1/a/%2e%2e/b/c", "/v1//b//c", "/v1/./b/./c", "/v1/b/c/x/.."],
)
def test_a_function_sees_the_resolved_path(gateway: GatewayProcess, target: str) -> None:
    response = get(gateway, target)
    assert response.status == 200
    event = json.loads(response.body)["event"]
    expected = "/v1/b/c/" if target.endswith("..") else "/v1/b/c"
    assert event["path"] == event["requestContext"]["path"] == expected
    assert event["pathParameters"] == {"proxy": expected.removeprefix("/v1/")}
    assert ".." not in response.body.decode()
