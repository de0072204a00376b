"""``X-Lockgate-Latency`` counts from the request's arrival at the gateway's outermost app, so
what runs before an endpoint (the listener's gate, which reads a signed body whole and checks
its signature; ``[limits]``; browsers' and hosts' checks) is in it, not only the endpoint."""

from __future__ import annotations

import time

from starlette.types import Message, Scope

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.controllers.http.asgi import ARRIVED, arrival, serve_request
from lockgate.models.context import HttpResponse


def _scope(path: str) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000")],
        "client": ("127.0.0.1", 50123),
        "server": ("127.0.0.1", 8000),
    }


class Exchange:
    """An ASGI receive with an empty body, and a send that records."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def latency_ms(self) -> float:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return float(dict(start["headers"])[b"x-lockgate-latency"])


async def test_the_header_counts_from_the_marked_arrival_not_from_the_endpoint() -> None:
    scope = _scope("/echo")
    scope[ARRIVED] = time.perf_counter() - 0.25  # a gate that took 250 ms before the endpoint
    exchange = Exchange()

    async def handle(_: str) -> HttpResponse:
        return HttpResponse(200, (), b"{}")

    await serve_request(exchange.send, handle, started=arrival(scope))
    assert exchange.latency_ms() >= 250


async def test_an_unmarked_request_counts_from_now() -> None:
    before = time.perf_counter()
    assert before <= arrival(_scope("/echo")) <= time.perf_counter()


async def test_the_gateway_marks_each_request_on_arrival() -> None:
    application = build(Settings(run_store="memory://"))
    app = create_app(application)
    scope = _scope("/healthz")
    exchange = Exchange()
    before = time.perf_counter()
    async with application:
        await app(scope, exchange.receive, exchange.send)
    assert before <= scope[ARRIVED] <= time.perf_counter()
    assert exchange.latency_ms() >= 0
