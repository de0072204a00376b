"""The ``http_client`` resource against real HTTP servers (Starlette under uvicorn, on free
loopback ports, in background threads for the whole module)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from lockgate import json_codec
from lockgate.errors import ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.http.client import JsonArray, JsonObject, ResourceHttpClient
from lockgate.gateways.resources.http.resolver import HttpxHttpClientResolver
from tests.support import wait_until

SECRET = "sk-0123456789-very-secret"


@dataclass
class _Group:
    """Requests in flight to ``/hold/{group}``; all are let go once ``target`` are in."""

    in_flight: int = 0
    most: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)


_groups: dict[str, _Group] = {}


async def echo(request: Request) -> Response:
    return JSONResponse(
        {
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
        }
    )


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params["seconds"]))
    return JSONResponse({"slow": True})


async def trickle(request: Request) -> Response:
    chunks, interval = int(request.query_params["chunks"]), float(request.query_params["interval"])

    async def body() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            await asyncio.sleep(interval)
            yield b"x"

    return StreamingResponse(body())


async def hold(request: Request) -> Response:
    group = _groups.setdefault(request.path_params["group"], _Group())
    group.in_flight += 1
    group.most = max(group.most, group.in_flight)
    if group.in_flight >= int(request.query_params["target"]):
        group.release.set()
    try:
        await asyncio.wait_for(group.release.wait(), float(request.query_params["wait"]))
    except TimeoutError:
        pass
    finally:
        group.in_flight -= 1
    return JSONResponse({"ok": True})


async def stats(request: Request) -> Response:
    return JSONResponse({"most": _groups[request.path_params["group"]].most})


async def health(request: Request) -> Response:
    return Response(status_code=int(request.path_params["status"]))


async def json_body(request: Request) -> Response:
    bodies: dict[str, Any] = {
        "object": {"orders": [{"id": 1}, {"id": 2}], "limit": 100},
        "array": [1, {"two": 2}, "three"],
        "scalar": 42,
    }
    return JSONResponse(bodies[request.path_params["kind"]])


async def orders(request: Request) -> Response:
    limit = int(request.query_params["limit"])
    return JSONResponse({"orders": [{"id": n} for n in range(3)], "limit": limit})


async def redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=302)


app = Starlette(
    routes=[
        Route("/echo", echo),
        Route("/api/echo", echo),
        Route("/api/orders", orders),
        Route("/slow", slow),
        Route("/trickle", trickle),
        Route("/hold/{group}", hold),
        Route("/stats/{group}", stats),
        Route("/health/{status:int}", health),
        Route("/json/{kind}", json_body),
        Route("/redirect", redirect),
    ]
)


@contextlib.contextmanager
def _serve() -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        ws="none",
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: uvicorn_server.started or not thread.is_alive(), 30, what="the server")
    assert uvicorn_server.started, "the test HTTP server failed to start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The server's base URL, e.g. ``http://127.0.0.1:40123``."""
    with _serve() as url:
        yield url


@pytest.fixture(scope="module")
def other_server() -> Iterator[str]:
    """A second server, same host, another port: another origin than ``server``."""
    with _serve() as url:
        yield url


Factory = Callable[..., Awaitable[ResourceHttpClient]]


@pytest.fixture
async def make(server: str) -> AsyncIterator[Factory]:
    """``await make(config, credentials)``: a client, closed after the test."""
    resolver = HttpxHttpClientResolver()
    clients: list[ResourceHttpClient] = []

    async def factory(config: dict[str, Any], credentials: Any = None) -> ResourceHttpClient:
        resolver.validate(config)
        client = await resolver.create(config, credentials)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await resolver.close(client)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


async def test_base_url_and_headers_are_sent(server: str, make: Factory) -> None:
    api = await make(
        {"base_url": f"{server}/api", "headers": {"User-Agent": "KailashSDK/1.0", "X-Tenant": "t1"}}
    )
    response = await api.get("/echo?limit=100")
    echoed = response.json()
    assert echoed["path"] == "/api/echo"
    assert echoed["query"] == "limit=100"
    assert echoed["headers"]["user-agent"] == "KailashSDK/1.0"
    assert echoed["headers"]["x-tenant"] == "t1"
    assert "authorization" not in echoed["headers"]


async def test_the_seeds_step_runs_and_its_result_checkpoints(server: str, make: Factory) -> None:
    api = await make({"base_url": server, "timeout": 30, "headers": {"User-Agent": "Kailash"}})

    async def fetch_orders() -> Any:  # as the seed's multi-resource step writes it
        response = await api.get("/api/orders?limit=100")
        return await response.json()

    orders = await fetch_orders()
    assert type(orders) is dict
    assert orders == {"orders": [{"id": 0}, {"id": 1}, {"id": 2}], "limit": 100}
    assert json_codec.loads(json_codec.dumps(orders)) == orders


async def test_json_may_be_awaited_or_not(server: str, make: Factory) -> None:
    api = await make({"base_url": server})
    response = await api.get("/json/object")
    value = response.json()
    assert isinstance(value, JsonObject)  # a dict subclass
    assert value == {"orders": [{"id": 1}, {"id": 2}], "limit": 100}
    assert len(value) == 2
    assert json.loads(json.dumps(value)) == value
    assert orjson.loads(orjson.dumps(value)) == value
    awaited = await value
    assert type(awaited) is dict
    assert awaited == value
    assert type(await response.json()) is dict

    array = (await api.get("/json/array")).json()
    assert isinstance(array, JsonArray)
    assert array == [1, {"two": 2}, "three"]
    assert json.dumps(array) == json.dumps([1, {"two": 2}, "three"])
    assert orjson.dumps(array) == b'[1,{"two":2},"three"]'
    assert type(await array) is list

    scalar = (await api.get("/json/scalar")).json()
    assert scalar == 42
    assert type(scalar) is int


async def test_timeout_bounds_a_slow_response(server: str, make: Factory) -> None:
    api = await make({"base_url": server, "timeout": 0.3})
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        await api.get("/slow?seconds=5")
    assert time.monotonic() - started < 4  # does not wait for the server


async def test_timeout_is_a_deadline_for_the_whole_request(server: str, make: Factory) -> None:
    # Each read takes 0.1 s, well inside the timeout; the whole body takes 1 s.
    api = await make({"base_url": server, "timeout": 0.4})
    with pytest.raises(httpx.ReadTimeout, match=r"within 0\.4s"):
        await api.get("/trickle?chunks=10&interval=0.1")
    response = await api.get("/trickle?chunks=10&interval=0.1", timeout=30)
    assert response.content == b"x" * 10


@pytest.mark.parametrize(
    ("credentials", "config", "header", "expected"),
    [
        ({"api_key": SECRET}, {}, "authorization", f"Bearer {SECRET}"),
        ({"token": SECRET}, {}, "authorization", f"Bearer {SECRET}"),
        ({"api_key": SECRET}, {"api_key_header": "X-API-Key"}, "x-api-key", SECRET),
        (
            {"username": "svc", "password": SECRET},
            {},
            "authorization",
            "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode(),
        ),
    ],
    ids=["api_key", "token", "api_key_header", "basic"],
)
async def test_credentials_are_sent_and_never_shown(
    server: str,
    make: Factory,
    credentials: dict[str, str],
    config: dict[str, str],
    header: str,
    expected: str,
) -> None:
    api = await make({"base_url": server, "health_url": "/health/503", **config}, credentials)
    echoed = (await api.get("/echo")).json()
    assert echoed["headers"][header] == expected
    assert SECRET not in repr(api)
    assert SECRET not in repr(api.headers)
    assert SECRET not in repr(api.auth)
    assert header not in api.headers  # sent by the auth flow, not a default header
    with pytest.raises(ResourceUnavailableError) as caught:
        await HttpxHttpClientResolver().health_check(api)
    assert SECRET not in str(caught.value)
    await api.aclose()
    assert SECRET not in repr(api)


async def test_malformed_credentials_are_refused_without_their_values() -> None:
    resolver = HttpxHttpClientResolver()
    for credentials in (
        {"api_key": SECRET, "password": SECRET},
        {"api_key": SECRET, "token": SECRET},
        {"username": SECRET},
        {"api_key": SECRET, "other": SECRET},
        {"api_key": f"{SECRET}\n"},
        ["not", "an", "object", SECRET],
    ):
        with pytest.raises(ResourceConfigError) as caught:
            await resolver.create({}, credentials)
        assert SECRET not in str(caught.value)
        assert caught.value.fields["key"] == "credentials_ref"


async def test_a_credential_header_does_not_follow_a_redirect_to_another_origin(
    server: str, make: Factory
) -> None:
    config = {"base_url": server, "follow_redirects": True, "api_key_header": "X-API-Key"}
    api = await make(config, {"api_key": SECRET})
    same_origin = (await api.get("/redirect?to=/echo")).json()
    assert same_origin["headers"]["x-api-key"] == SECRET
    elsewhere = server.replace("127.0.0.1", "localhost") + "/echo"
    response = await api.get("/redirect", params={"to": elsewhere})
    assert response.url.host == "localhost"
    assert "x-api-key" not in response.json()["headers"]

    bearer = await make({"base_url": server, "follow_redirects": True}, {"token": SECRET})
    response = await bearer.get("/redirect", params={"to": elsewhere})
    assert "authorization" not in response.json()["headers"]


CREDENTIALS = [
    ({"api_key": SECRET}, {}),
    ({"token": SECRET}, {}),
    ({"api_key": SECRET}, {"api_key_header": "X-API-Key"}),
    ({"username": "svc", "password": SECRET}, {}),
]
CREDENTIAL_IDS = ["api_key", "token", "api_key_header", "basic"]


def _carries_secret(echoed: dict[str, Any]) -> bool:
    headers: dict[str, str] = echoed["headers"]
    basic = base64.b64encode(f"svc:{SECRET}".encode()).decode()
    return any(SECRET in value or basic in value for value in headers.values())


@pytest.mark.parametrize(("credentials", "config"), CREDENTIALS, ids=CREDENTIAL_IDS)
async def test_credentials_go_only_to_the_base_url_origin(
    server: str,
    other_server: str,
    make: Factory,
    credentials: dict[str, str],
    config: dict[str, str],
) -> None:
    api = await make({"base_url": f"{server}/api", **config}, credentials)
    assert _carries_secret((await api.get("/echo")).json())
    # The same origin by an absolute URL, outside base_url's path: still that origin.
    assert _carries_secret((await api.get(f"{server}/echo")).json())
    other_host = server.replace("127.0.0.1", "localhost") + "/echo"
    for url in (other_host, f"{other_server}/echo", f"{other_server}/api/echo"):
        response = await api.get(url)
        assert response.status_code == 200
        assert not _carries_secret(response.json()), url
        assert "authorization" not in response.json()["headers"], url
    # A per-request header of the caller's own still goes where the caller sends it.
    mine = (await api.get(f"{other_server}/echo", headers={"X-Mine": "v"})).json()
    assert mine["headers"]["x-mine"] == "v"


@pytest.mark.parametrize(("credentials", "config"), CREDENTIALS, ids=CREDENTIAL_IDS)
async def test_credentials_do_not_follow_a_redirect_to_another_port(
    server: str,
    other_server: str,
    make: Factory,
    credentials: dict[str, str],
    config: dict[str, str],
) -> None:
    api = await make({"base_url": server, "follow_redirects": True, **config}, credentials)
    response = await api.get("/redirect", params={"to": f"{other_server}/echo"})
    assert str(response.url).startswith(other_server)
    assert not _carries_secret(response.json())


async def _most_in_flight(api: ResourceHttpClient, *, target: int, wait: float) -> int:
    group = unique("hold")
    responses = await asyncio.gather(
        *(api.get(f"/hold/{group}", params={"target": target, "wait": wait}) for _ in range(20))
    )
    assert all(response.status_code == 200 for response in responses)
    most: int = (await api.get(f"/stats/{group}")).json()["most"]
    return most


async def test_connection_limit_per_host_caps_requests_in_flight(
    server: str, make: Factory
) -> None:
    # The server lets every request go as soon as 4 are in flight at once: without a per-host
    # limit that happens; with a limit of 3 it never may, and each request waits 0.1 s.
    unlimited = await make({"base_url": server})
    assert await _most_in_flight(unlimited, target=4, wait=10) >= 4
    limited = await make({"base_url": server, "connection_limit_per_host": 3})
    assert await _most_in_flight(limited, target=4, wait=0.1) <= 3


async def test_a_streamed_response_holds_its_host_slot_until_closed(
    server: str, make: Factory
) -> None:
    api = await make({"base_url": server, "connection_limit_per_host": 1})
    async with api.stream("GET", "/json/object") as streamed:
        with pytest.raises(httpx.PoolTimeout, match="connection_limit_per_host=1"):
            await api.get("/echo", timeout=httpx.Timeout(30, pool=0.2))
        other_host = server.replace("127.0.0.1", "localhost") + "/echo"
        assert (await api.get(other_host)).status_code == 200
        assert await streamed.aread()
    assert (await api.get("/echo", timeout=httpx.Timeout(30, pool=5))).status_code == 200


async def test_health_check_gets_health_url(server: str, make: Factory) -> None:
    resolver = HttpxHttpClientResolver()
    await resolver.health_check(await make({"base_url": server, "health_url": "/health/200"}))
    await resolver.health_check(await make({"base_url": server, "health_url": "/health/404"}))
    await resolver.health_check(await make({"health_url": f"{server}/health/204"}))
    await resolver.health_check(await make({}))

    failing = await make({"base_url": server, "health_url": "/health/500?key=hidden"})
    with pytest.raises(ResourceUnavailableError, match="answered 500") as caught:
        await resolver.health_check(failing)
    assert f"{server}/health/500" in str(caught.value)
    assert "hidden" not in str(caught.value)
    assert not isinstance(caught.value, ResourceTimeoutError)


async def test_health_check_of_a_refused_port_is_unavailable(make: Factory) -> None:
    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        api = await make({"base_url": url, "health_url": "/health", "connect_timeout": 5})
        with pytest.raises(ResourceUnavailableError, match=f"GET {url}/health failed") as caught:
            await HttpxHttpClientResolver().health_check(api)
        assert not isinstance(caught.value, ResourceTimeoutError)


async def test_health_check_of_a_slow_server_times_out(server: str, make: Factory) -> None:
    api = await make({"base_url": server, "health_url": "/slow?seconds=5", "timeout": 0.3})
    with pytest.raises(ResourceTimeoutError, match=f"GET {server}/slow"):
        await HttpxHttpClientResolver().health_check(api)


async def test_close_is_idempotent_and_a_closed_client_is_unhealthy(
    server: str, make: Factory
) -> None:
    resolver = HttpxHttpClientResolver()
    api = await make({"base_url": server})
    assert (await api.get("/echo")).status_code == 200
    await resolver.close(api)
    await resolver.close(api)
    assert api.is_closed
    with pytest.raises(ResourceUnavailableError, match="is closed"):
        await resolver.health_check(api)


async def test_a_redirect_gives_its_host_slot_back_before_the_next_hop(
    server: str, make: Factory
) -> None:
    config = {"base_url": server, "connection_limit_per_host": 1, "follow_redirects": True}
    api = await make(config)
    response = await api.get("/redirect?to=/echo", timeout=httpx.Timeout(30, pool=5))
    assert response.json()["path"] == "/echo"
    assert len(response.history) == 1
