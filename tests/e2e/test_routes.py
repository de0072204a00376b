"""HTTP routes through a real gateway and real worker processes: events in both payload
formats, response mapping, errors as API Gateway reports them, operations endpoints."""

from __future__ import annotations

import base64
import json

import httpx

from tests.e2e.gateway_process import GatewayProcess


def test_a_v2_route_passes_path_query_headers_and_cookies(client: httpx.Client) -> None:
    response = client.get(
        "/echo/ann?tag=a&tag=b&empty=", headers={"x-trace": "t1", "cookie": "a=1; b=2"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    event = response.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{name}"
    assert event["rawPath"] == "/echo/ann"
    assert event["pathParameters"] == {"name": "ann"}
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": ""}
    assert event["headers"]["x-trace"] == "t1"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["requestId"] == response.json()["request_id"]


def test_a_v1_greedy_route_gets_a_rest_api_event(client: httpx.Client) -> None:
    response = client.post("/v1/a/b/c?x=1&x=2", content=b"\xff\x00binary")
    assert response.status_code == 200
    event = response.json()["event"]
    assert event["resource"] == "/v1/{proxy+}"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["isBase64Encoded"] is True
    assert response.headers.get_list("x-multi") == ["1", "2"]


def test_every_response_reports_the_latency_the_gateway_added(client: httpx.Client) -> None:
    for path in ("/echo/x", "/healthz", "/no/such/route"):
        latency = float(client.get(path).headers["x-lockgate-latency"])
        assert 0 <= latency < 10_000


def test_an_unknown_route_is_a_json_404(client: httpx.Client) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}
    assert client.delete("/echo/x").status_code == 404  # the path exists for GET only


def test_a_handler_exception_is_a_502(client: httpx.Client) -> None:
    response = client.get("/raises")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_malformed_handler_output_is_a_502(client: httpx.Client) -> None:
    response = client.get("/malformed")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_function_that_cannot_import_answers_502_and_reports_it(client: httpx.Client) -> None:
    assert client.get("/broken").status_code == 502
    health = client.get("/health").json()
    assert "this module is broken on purpose" in health["functions"]["broken"]["last_init_error"]
    assert health["status"] == "degraded"
    assert client.get("/echo/still-serving").status_code == 200


def test_a_timeout_is_a_504_and_the_worker_is_replaced(client: httpx.Client) -> None:
    response = client.get("/sleeps")
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    after = client.post(
        "/2015-03-31/functions/sleeps/invocations", content=json.dumps({"seconds": 0})
    )
    assert after.status_code == 200
    assert after.json()["slept"] is True


def test_a_worker_that_exits_mid_call_is_a_502_and_counted(client: httpx.Client) -> None:
    response = client.get("/exits")
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    metrics = client.get("/metrics").text
    assert 'lockgate_invocations_total{function="exits",outcome="crash"}' in metrics


def test_a_body_over_the_limit_is_a_413(client: httpx.Client) -> None:
    response = client.post("/upload", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert client.post("/upload", content=b"x" * 1024).status_code == 200


def test_operations_endpoints(client: httpx.Client, gateway: GatewayProcess) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    echo = client.get("/health").json()["functions"]["echo"]
    assert echo["warm"] + echo["busy"] >= 1  # min_warm = 1
    assert echo["breaker"] == "closed"
    metrics = client.get("/metrics").text
    for name in (
        "lockgate_invocations_total",
        "lockgate_invocation_duration_seconds_bucket",
        "lockgate_pool_workers",
        "lockgate_pool_queue_depth",
        "lockgate_cold_starts_total",
        "lockgate_circuit_breaker_state",
    ):
        assert name in metrics
    assert client.get("/_lockgate/openapi.json").status_code == 200


def test_results_are_the_same_compact_json_on_every_call(client: httpx.Client) -> None:
    for _ in range(3):  # the first call (before the worker loads orjson) and later ones alike
        response = client.post("/2015-03-31/functions/echo/invocations", content=b'{"a": 1}')
        assert response.content.startswith(b'{"event":{"a":1},"request_id":')


def test_the_report_line_counts_the_workers_own_memory(client: httpx.Client) -> None:
    response = client.post(
        "/2015-03-31/functions/echo/invocations",
        content=b"{}",
        headers={"x-amz-log-type": "Tail"},
    )
    tail = base64.b64decode(response.headers["x-amz-log-result"]).decode()
    used = int(tail.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 5 <= used < 30  # a worker (≈ 15 MB), not the gateway it was spawned from
