"""A real ``lockgate serve`` whose workflow step calls an upstream that echoes the request
back, bearer token included (as httpbin's ``/anything`` does), through a shared and an
inline ``http_client`` whose ``credentials_ref`` names the token: the run's result, its
step's error, the run store's file and the gateway's log all carry ``***``, never the token.
Then the token's master key is rotated under the running gateway, and runs go on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.secrets_live import EchoServer, Site, echo_server, never_500, replace_key_file

TOKEN = "tok-live-echo-8e41c9b27d03"

WORKFLOWS = """
import logging

from lockgate import AsyncWorkflowBuilder, get_resource

log = logging.getLogger("echo_workflows")


async def call_upstream(path: str) -> dict:
    client = await get_resource("upstream")
    response = await client.get(path)
    body = response.json()
    log.warning("upstream answered %s", body)
    if response.status_code >= 400:
        raise RuntimeError(f"upstream refused {path}: {body}")
    return body


def build_echo() -> AsyncWorkflowBuilder:
    return (
        AsyncWorkflowBuilder("echo")
        .add_parameter("path", str, default="/anything")
        .add_step("call", call_upstream)
        .add_async_code("keep", "result = {'authorization': echoed['headers']['Authorization']}")
        .add_connection("call", "result", "keep", "echoed")
    )
"""


@pytest.fixture
def upstream() -> Iterator[EchoServer]:
    with echo_server() as server:
        yield server


@pytest.fixture
def site(tmp_path: Path, upstream: EchoServer) -> Site:
    site = Site(tmp_path)
    site.config.write_text(
        f"""
[gateway]
inline_credentials = ["api_token"]
allow_inline_resources = true
inline_allowed_hosts = ["127.0.0.1"]

[resources.echo]
type = "http_client"
credentials_ref = "api_token"
config = {{ base_url = "{upstream.url}" }}

[workflows.echo]
builder = "echo_workflows:build_echo"
""",
        encoding="utf-8",
    )
    (tmp_path / "echo_workflows.py").write_text(WORKFLOWS, encoding="utf-8")
    key = site.new_key("master.key")
    site.set_secret("api_token", f'{{"token": "{TOKEN}"}}', key, "--json")
    return site


def run(http: httpx.Client, upstream: Any, path: str = "/anything") -> httpx.Response:
    return http.post(
        "/workflows/echo/runs",
        json={"parameters": {"path": path}, "resources": {"upstream": upstream}},
    )


def test_an_echoed_token_is_stored_returned_and_logged_as_stars(
    site: Site, upstream: EchoServer
) -> None:
    inline = {
        "type": "http_client",
        "config": {"base_url": upstream.url},
        "credentials_ref": "api_token",
    }
    responses: list[httpx.Response] = []
    # Uncached, so that every new client reads the secret from the store.
    env = site.gateway_env(
        LOCKGATE_MASTER_KEY_FILE=str(site.key_file), LOCKGATE_SECRET_CACHE_TTL="0"
    )
    with (
        GatewayProcess(site.config, env=env) as gateway,
        httpx.Client(
            base_url=gateway.url, timeout=60, event_hooks={"response": [responses.append]}
        ) as http,
    ):
        for reference in ("@echo", inline):
            finished = run(http, reference)
            assert finished.status_code == 200, finished.text
            body = finished.json()
            assert body["status"] == "completed", body
            echoed = body["result"]["call"]["headers"]
            assert echoed["Authorization"] == "Bearer ***"  # the upstream did see the token
            assert body["result"]["keep"] == {"authorization": "Bearer ***"}
            stored = http.get(f"/runs/{body['run_id']}")
            assert stored.json()["result"] == body["result"]

            failed = run(http, reference, "/status/401")
            assert failed.status_code == 200, failed.text
            error = failed.json()["error"]
            assert failed.json()["status"] == "failed"
            assert "upstream refused /status/401" in error
            assert "Bearer ***" in error
            listed = http.get("/runs", params={"workflow": "echo"})
            assert listed.status_code == 200

        # The token's master key is rotated under the running gateway: runs go on (a new
        # inline client reads the secret again, through the kept wrapping).
        new_key = site.new_key("next.key")
        site.rotate(site.key_file, new_key)
        after = run(http, {**inline, "config": {"base_url": upstream.url + "/a"}})
        assert after.json()["status"] == "completed", after.text
        assert after.json()["result"]["keep"] == {"authorization": "Bearer ***"}

        # Retired while the gateway's key file still holds the old key: a step that needs
        # the secret fails saying so (the run is a failed run, not a 500) ...
        retired = site.lockgate("secrets", "retire-key", "--key-file", str(new_key))
        assert retired.exit_code == 0, retired.output
        stuck = run(http, {**inline, "config": {"base_url": upstream.url + "/b"}})
        assert stuck.status_code == 200, stuck.text
        assert stuck.json()["status"] == "failed"
        assert "does not hold" in stuck.json()["error"]
        # ... until the key file holds the new key, which the gateway then re-reads.
        replace_key_file(site.key_file, new_key)
        again = run(http, {**inline, "config": {"base_url": upstream.url + "/c"}})
        assert again.json()["status"] == "completed", again.text
        output = gateway.read_output().decode()

    never_500(responses)
    for response in responses:
        assert TOKEN not in response.text
    assert "upstream answered" in output  # the step's log line is in the gateway's output
    assert "Bearer ***" in output
    assert TOKEN not in output
    for path in site.store_files():
        assert TOKEN.encode() not in path.read_bytes(), path
