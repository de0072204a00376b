"""A client that goes away before its body arrived leaves one INFO line, on the raw hot
paths and on every FastAPI endpoint, and never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.types import Message, Scope

from lockgate.controllers.http.asgi import read_body, serve_request
from lockgate.controllers.http.error_handlers import install_error_handlers
from lockgate.models.context import HttpResponse

SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/things",
    "raw_path": b"/things",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
    "client": ("10.0.0.7", 50123),
    "server": ("127.0.0.1", 8000),
}
LINE = "client 10.0.0.7:50123 went away before its request body arrived: POST /things"


class GoneMidBody:
    """An ASGI receive: part of a body, then the client is gone; and a send that records."""

    def __init__(self) -> None:
        self.messages: list[Message] = [
            {"type": "http.request", "body": b'{"a": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return self.messages.pop(0) if self.messages else {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(record.levelno, record.getMessage()) for record in caplog.records]


async def test_a_hot_path_logs_one_info_line_and_answers_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = GoneMidBody()

    async def handle(_: str) -> HttpResponse:
        await read_body(SCOPE, client.receive, 1024)
        raise AssertionError("the body cannot be complete")

    with caplog.at_level(logging.INFO):
        await serve_request(client.send, handle)
    assert lines(caplog) == [(logging.INFO, LINE)]
    assert client.sent == []


class Thing(BaseModel):
    a: int


def _api() -> FastAPI:
    api = FastAPI()
    install_error_handlers(api)

    @api.post("/things")
    async def read_with_read_body(request: Request) -> dict[str, Any]:
        await read_body(request.scope, request.receive, 1024)
        return {}

    @api.put("/things")
    async def read_by_fastapi(thing: Thing) -> dict[str, Any]:  # FastAPI reads the body
        return thing.model_dump()

    @api.patch("/things")
    async def read_by_starlette(request: Request) -> dict[str, Any]:
        return {"size": len(await request.body())}

    return api


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_fastapi_endpoint_logs_one_info_line(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = GoneMidBody()
    with caplog.at_level(logging.INFO):
        await _api()({**SCOPE, "method": method}, client.receive, client.send)
    assert lines(caplog) == [(logging.INFO, LINE.replace("POST", method))]
