"""What a web page can make a developer's (or any) gateway do, through real HTTP: DNS
rebinding (a foreign ``Host``), cross-origin requests of every content type to the workflow
API, the Lambda API and operations, and CORS as an HTTP API configures it for routes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.access_support import REMOTE, config, error
from tests.e2e.gateway_process import GatewayProcess

APP = "https://app.example.com"
EVIL = "http://evil.example"
CORS = """
[cors]
allow_origins = ["https://app.example.com", "https://*.corp.example"]
allow_methods = ["GET", "POST"]
allow_headers = ["content-type", "authorization"]
expose_headers = ["x-lockgate-latency"]
max_age = 600
allow_credentials = true

[[routes]]
method = "GET"
path = "/cors"
function = "cors_echo"

[[routes]]
method = "GET"
path = "/open-cors"
function = "cors_echo"
cors = { allow_origins = ["*"], allow_methods = ["GET"] }
"""


@pytest.fixture(scope="module")
def with_cors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(config(tmp_path_factory.mktemp("cors"), CORS)) as gateway:
        yield gateway


def runs(gateway: GatewayProcess) -> int:
    with httpx.Client(base_url=gateway.url) as http:
        return len(http.get("/runs", params={"limit": 500}).json()["runs"])


# -- hosts -----------------------------------------------------------------------------------


def test_a_foreign_host_is_refused_everywhere(gateway: GatewayProcess) -> None:
    """A page whose name was rebound to 127.0.0.1 sends its own name as Host."""
    with httpx.Client(base_url=gateway.url) as http:
        for path in ("/runs", "/echo/ann", "/health", "/2015-03-31/functions/"):
            refused = http.get(path, headers={"Host": "rebound.evil.example"})
            assert "allowed_hosts" in error(refused, 400, "InvalidHost"), path
        # Probes say nothing but the status: load balancers may call them by any name.
        assert http.get("/healthz", headers={"Host": "lb.internal"}).json() == {"status": "ok"}
        for host in ("localhost", f"127.0.0.1:{gateway.port}", f"localhost:{gateway.port}"):
            assert http.get("/runs", headers={"Host": host}).status_code == 200


def test_a_wildcard_listener_answers_to_its_own_names_and_addresses(tmp_path: Path) -> None:
    anonymous = '[auth]\nallow_anonymous = ["workflow_api", "lambda_api", "operations"]\n'
    path = config(tmp_path, anonymous)
    with (
        GatewayProcess(path, host="0.0.0.0") as gateway,
        httpx.Client(base_url=gateway.url) as http,
    ):
        for host in (REMOTE, "127.0.0.1", socket.gethostname(), f"{REMOTE}:{gateway.port}"):
            assert http.get("/runs", headers={"Host": host}).status_code == 200, host
        for host in ("203.0.113.9", "api.example.com", "10.255.255.254"):
            error(http.get("/runs", headers={"Host": host}), 400, "InvalidHost")


def test_allowed_hosts_names_what_a_gateway_answers_to(tmp_path: Path) -> None:
    path = config(tmp_path, "")
    path.write_text(
        path.read_text().replace(
            "[gateway]\n", '[gateway]\nallowed_hosts = ["api.example.com", "*.corp.example"]\n'
        )
    )
    with GatewayProcess(path) as gateway, httpx.Client(base_url=gateway.url) as http:
        for host in ("api.example.com", "API.example.com.", "x.corp.example:8443"):
            assert http.get("/echo/ann", headers={"Host": host}).status_code == 200, host
        for host in ("corp.example", "example.com", "127.0.0.1"):
            error(http.get("/echo/ann", headers={"Host": host}), 400, "InvalidHost")


# -- cross-origin pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/workflows/pipeline/runs", "text/plain"),
        ("POST", "/workflows/pipeline/runs", "application/x-www-form-urlencoded"),
        ("POST", "/2015-03-31/functions/echo/invocations", "text/plain"),
        ("GET", "/runs", None),
        ("GET", "/metrics", None),
    ],
)
def test_a_page_on_another_origin_reaches_no_api(
    gateway: GatewayProcess, method: str, path: str, content_type: str | None
) -> None:
    before = runs(gateway)
    headers = {"Origin": EVIL}
    if content_type:
        headers["Content-Type"] = content_type
    with httpx.Client(base_url=gateway.url) as http:
        response = http.request(method, path, headers=headers, content=b'{"a": 1}')
    assert "[cors] allow_origins" in error(response, 403, "CrossOriginRefused")
    assert "access-control-allow-origin" not in response.headers
    assert runs(gateway) == before


def test_a_cross_site_fetch_without_an_origin_is_refused_too(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        refused = http.get("/runs", headers={"Sec-Fetch-Site": "cross-site"})
        error(refused, 403, "CrossOriginRefused")
        for site in ("same-origin", "none"):
            assert http.get("/runs", headers={"Sec-Fetch-Site": site}).status_code == 200


def test_the_gateways_own_pages_are_not_cross_origin(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        own = http.get("/_lockgate/openapi.json", headers={"Origin": gateway.url})
        assert own.status_code == 200
        # Another name for the same address is another origin, as browsers see it.
        other = http.get("/runs", headers={"Origin": f"http://localhost:{gateway.port}"})
        error(other, 403, "CrossOriginRefused")


def test_an_allowed_origin_calls_the_workflow_api_with_cors_headers(
    with_cors: GatewayProcess,
) -> None:
    with httpx.Client(base_url=with_cors.url) as http:
        preflight = http.options(
            "/workflows/pipeline/runs",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Content-Type, Authorization",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == APP
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-allow-methods"] == "GET, POST"
        assert preflight.headers["access-control-allow-headers"] == "content-type, authorization"
        assert preflight.headers["access-control-max-age"] == "600"

        started = http.post(
            "/workflows/pipeline/runs",
            headers={"Origin": APP},
            json={"parameters": {"numbers": [1]}},
        )
        assert started.status_code == 200, started.text
        assert started.headers["access-control-allow-origin"] == APP
        assert started.headers["vary"] == "Origin"
        assert started.headers["access-control-expose-headers"] == "x-lockgate-latency"

        sub = http.get("/runs", headers={"Origin": "https://team.corp.example"})
        assert sub.headers["access-control-allow-origin"] == "https://team.corp.example"
        error(http.get("/runs", headers={"Origin": EVIL}), 403, "CrossOriginRefused")
        refused = http.options(
            "/runs", headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"}
        )
        error(refused, 403, "CrossOriginRefused")


# -- routes: CORS as an HTTP API applies it ------------------------------------------------------


def test_the_gateway_answers_route_preflights_itself(with_cors: GatewayProcess) -> None:
    with httpx.Client(base_url=with_cors.url) as http:
        allowed = http.options(
            "/cors", headers={"Origin": APP, "Access-Control-Request-Method": "GET"}
        )
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == APP
        assert allowed.content == b""
        other = http.options(
            "/cors", headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"}
        )
        assert other.status_code == 204
        assert "access-control-allow-origin" not in other.headers
        wrong_method = http.options(
            "/cors", headers={"Origin": APP, "Access-Control-Request-Method": "DELETE"}
        )
        assert "access-control-allow-origin" not in wrong_method.headers


def test_route_answers_carry_the_configured_headers_not_the_functions(
    with_cors: GatewayProcess,
) -> None:
    with httpx.Client(base_url=with_cors.url) as http:
        allowed = http.get("/cors", headers={"Origin": APP})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP  # not the function's *
        assert allowed.headers["x-from"] == "function"
        other = http.get("/cors", headers={"Origin": EVIL})
        assert other.status_code == 200  # as API Gateway: the browser, not the gateway, stops it
        assert "access-control-allow-origin" not in other.headers
        no_origin = http.get("/cors")
        assert no_origin.headers["access-control-allow-origin"] == "*"  # no CORS request: as is
        opened = http.get("/open-cors", headers={"Origin": EVIL})
        assert opened.headers["access-control-allow-origin"] == "*"
        assert "vary" not in opened.headers


def test_cors_settings_that_do_not_fit_are_refused_at_start(tmp_path: Path) -> None:
    from lockgate.config.settings import load_config  # noqa: PLC0415
    from lockgate.errors import ConfigError  # noqa: PLC0415

    path = config(
        tmp_path,
        '[cors]\nallow_origins = ["*", "ftp://x"]\nallow_credentials = true\nmax_age = 99999\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "cors.max_age: expected an integer ≥ -1 and ≤ 86400" in caught.value.message
