"""A malformed JSON body on the operator APIs is a 422 that says where and what was wrong,
never echoing what was sent (it may hold secrets); the same words on every endpoint that
reads a body as a model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from lockgate.bootstrap import build
from lockgate.controllers.http.app import create_app
from lockgate.settings import Settings

TOKEN = "local-admin-token-for-this-test"
SENT = "sk-live-0123456789abcdef"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    application = build(Settings(run_store="memory://"), local_admin_token=TOKEN)
    transport = httpx.ASGITransport(app=create_app(application), client=("127.0.0.1", 50000))
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with (
        application,
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as c,
    ):
        yield c


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/invocations/redrive", {"request_ids": SENT}, "body.request_ids"),
        ("/events/deliveries/redrive", {"delivery_ids": SENT}, "body.delivery_ids"),
        ("/events/deliveries/redrive", {"subscriber": [SENT]}, "body.subscriber"),
    ],
)
async def test_a_malformed_body_names_the_field_not_the_value(
    http: httpx.AsyncClient, path: str, body: dict[str, object], where: str
) -> None:
    answer = await http.post(path, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "ValidationError"
    assert error["message"].startswith(where), error["message"]
    assert SENT not in answer.text
