"""The secrets API and ``/health`` through the real ASGI app, built by ``build`` as a server
builds it, with a ``SecretManager`` over the in-memory store.

Who may call (operators only: the admin token, the local admin token or a token with the
``admin`` scope, from any address, loopback included), what is answered (metadata, never a
value unless ``secrets_http_read``), the one error shape, and that no response or log line
ever carries a secret's plaintext.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockgate.bootstrap import build, check_secrets
from lockgate.config.settings import Settings
from lockgate.controllers.http.app import create_app
from lockgate.controllers.http.secrets_api import SecretList, SecretMetadataModel
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import (
    ConfigError,
    MasterKeyError,
    ResourceConfigError,
    ResourceUnavailableError,
)
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.resource import ResourceReference
from lockgate.models.security.principals import CredentialKind
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key
from lockgate.use_cases.secrets.setup import SecretBackend

PASSWORD = "pw-api-3b7e01d9c4a6"
CREDS = {"user": "app", "password": PASSWORD}
TOKEN = "admin-token-8c41e07d5b92"
LOCAL = "lga_local-admin-token-of-this-test-000000000000"
LOOPBACK = ("127.0.0.1", 40000)
REMOTE = ("203.0.113.7", 40000)


@pytest.fixture(autouse=True)
def _no_lockgate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LOCKGATE_* variables must not change these gateways."""
    for name in os.environ:
        if name.upper().startswith("LOCKGATE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def manager() -> SecretManager:
    return SecretManager(InMemorySecretStore(), MasterKey.from_base64(generate_master_key()))


def settings(**values: Any) -> Settings:
    return Settings(run_store="memory://", **values)


class Gateway:
    """A started gateway and a client per address."""

    def __init__(self, app: Any, application: Any) -> None:
        self.app = app
        self.application = application
        self.responses: list[httpx.Response] = []

    @asynccontextmanager
    async def client(
        self, address: tuple[str, int] = LOOPBACK, token: str | None = LOCAL
    ) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}

        async def keep(response: httpx.Response) -> None:
            await response.aread()
            self.responses.append(response)

        transport = httpx.ASGITransport(app=self.app, client=address)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1:8000",
            headers=headers,
            event_hooks={"response": [keep]},
        ) as http:
            yield http


@asynccontextmanager
async def gateway(
    gateway_settings: Settings, secrets: SecretBackend | None = None
) -> AsyncIterator[Gateway]:
    application = build(gateway_settings, secret_manager=secrets, local_admin_token=LOCAL)
    await application.start()  # ASGITransport runs no lifespan
    try:
        yield Gateway(create_app(application), application)
    finally:
        await application.stop()


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    ErrorBody.model_validate(body)
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def assert_never_shown(served: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    assert served.responses
    for response in served.responses:
        assert PASSWORD not in response.text
        assert PASSWORD not in str(response.headers)
    assert PASSWORD not in caplog.text
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()


# -- writing, listing, reading, deleting -----------------------------------------------------


async def test_put_list_read_refused_delete(
    manager: SecretManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with gateway(settings(), manager) as served, served.client() as http:
        stored = await http.put("/secrets/db_creds", json={"value": CREDS})
        assert stored.status_code == 200, stored.text
        metadata = SecretMetadataModel.model_validate(stored.json())
        assert metadata.name == "db_creds"
        assert metadata.version == 1
        assert metadata.key_id == manager.key_id
        assert set(stored.json()) == {"name", "created_at", "updated_at", "key_id", "version"}

        replaced = await http.put("/secrets/db_creds", json={"value": {"password": "other-pw"}})
        assert replaced.json()["version"] == 2
        await http.put("/secrets/team/api_token", json={"value": PASSWORD})

        listed = await http.get("/secrets")
        assert listed.status_code == 200
        names = [s.name for s in SecretList.model_validate(listed.json()).secrets]
        assert names == ["db_creds", "team/api_token"]

        message = error_of(await http.get("/secrets/db_creds"), 403, "SecretReadDisabled")
        assert "secrets_http_read" in message
        error_of(await http.get("/secrets/nope"), 403, "SecretReadDisabled")

        deleted = await http.delete("/secrets/team/api_token")
        assert deleted.status_code == 204
        assert deleted.content == b""
        message = error_of(await http.delete("/secrets/team/api_token"), 404, "SecretNotFound")
        assert "'team/api_token'" in message
        assert [s["name"] for s in (await http.get("/secrets")).json()["secrets"]] == ["db_creds"]

    assert (await manager.get_secret("db_creds")).reveal() == {"password": "other-pw"}
    assert "secret 'db_creds' stored" in caplog.text  # the log is captured: the check bites
    assert_never_shown(served, caplog)


async def test_values_are_read_back_only_when_enabled(
    manager: SecretManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        gateway(settings(secrets_http_read=True), manager) as served,
        served.client() as http,
    ):
        await http.put("/secrets/db_creds", json={"value": CREDS})
        read = await http.get("/secrets/db_creds")
        assert read.status_code == 200
        assert read.json() == {"name": "db_creds", "value": CREDS}
        message = error_of(await http.get("/secrets/nope"), 404, "SecretNotFound")
        assert "'nope'" in message
    # The one response allowed to carry it is the read that asked for it.
    served.responses = [r for r in served.responses if r.request.method != "GET"]
    assert_never_shown(served, caplog)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"val": 1}', '{"value": <any JSON value>}'),
        (b'{"value": 1, "extra": 2}', '{"value": <any JSON value>}'),
        (b"[1]", '{"value": <any JSON value>}'),
        (b"", "not valid JSON"),
    ],
)
async def test_a_bad_body_is_a_422(manager: SecretManager, content: bytes, fragment: str) -> None:
    async with gateway(settings(), manager) as served, served.client() as http:
        response = await http.put("/secrets/db_creds", content=content)
        assert fragment in error_of(response, 422, "ValidationError")
    assert await manager.list_secrets() == []


async def test_a_bad_name_is_a_400_and_a_huge_body_a_413(manager: SecretManager) -> None:
    async with gateway(settings(max_body_bytes=1024), manager) as served, served.client() as http:
        message = error_of(
            await http.put("/secrets/-bad", json={"value": 1}),
            400,
            "InvalidRequestContentException",
        )
        assert "'-bad'" in message
        huge = {"value": "x" * 2048}
        error_of(await http.put("/secrets/big", json=huge), 413, "RequestTooLargeException")
    assert await manager.list_secrets() == []


# -- who may call ----------------------------------------------------------------------------


async def test_a_loopback_address_is_no_credential(manager: SecretManager) -> None:
    """Any local process (the gateway's own outbound requests included) has a loopback
    address: without a token nobody is served, wherever they call from."""
    async with gateway(settings(), manager) as served:
        for address in (LOOPBACK, ("::1", 40000), REMOTE):
            async with served.client(address, token=None) as anonymous:
                for response in (
                    await anonymous.get("/secrets"),
                    await anonymous.put("/secrets/db_creds", json={"value": CREDS}),
                    await anonymous.get("/secrets/db_creds"),
                    await anonymous.delete("/secrets/db_creds"),
                ):
                    assert "scope admin" in error_of(response, 401, "Unauthorized")
        for address in (LOOPBACK, REMOTE):
            async with served.client(address) as operator:  # the local admin token
                assert (await operator.get("/secrets")).status_code == 200
    assert await manager.list_secrets() == []


async def test_with_a_token_every_caller_must_present_it(manager: SecretManager) -> None:
    async with gateway(settings(admin_token=TOKEN), manager) as served:
        for address in (LOOPBACK, REMOTE):
            for token in (None, "wrong-token-0000000000", TOKEN + "x", TOKEN[:-1]):
                async with served.client(address, token) as http:
                    response = await http.put("/secrets/db_creds", json={"value": CREDS})
                    error_of(response, 401, "Unauthorized")
                    assert response.headers["www-authenticate"] == 'Bearer realm="lockgate"'
                    error_of(await http.get("/secrets"), 401, "Unauthorized")
            async with served.client(address, token=None) as http:
                basic = await http.get("/secrets", headers={"Authorization": f"Basic {TOKEN}"})
                assert "Bearer" in error_of(basic, 401, "Unauthorized")
        assert await manager.list_secrets() == []

        async with served.client(REMOTE, TOKEN) as http:
            assert (await http.put("/secrets/db_creds", json={"value": CREDS})).status_code == 200
        async with served.client(LOOPBACK, TOKEN) as http:
            assert (await http.get("/secrets")).json()["secrets"][0]["name"] == "db_creds"
    for response in served.responses:
        assert TOKEN not in response.text


# -- without secrets -------------------------------------------------------------------------


async def test_a_gateway_without_secrets_answers_503(caplog: pytest.LogCaptureFixture) -> None:
    async with gateway(settings(secrets="off")) as served, served.client() as http:
        for response in (
            await http.get("/secrets"),
            await http.put("/secrets/db_creds", json={"value": CREDS}),
            await http.delete("/secrets/db_creds"),
        ):
            message = error_of(response, 503, "SecretsNotConfigured")
            assert "lockgate secrets init-key" in message
        health = (await http.get("/health")).json()
        assert health["secrets"] == {"backend": "off"}
    assert_never_shown(served, caplog)


async def test_the_environment_backend_lists_and_refuses_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_DB_CREDS", f'{{"password": "{PASSWORD}"}}')
    async with gateway(settings(secrets="env")) as served, served.client() as http:
        assert [s["name"] for s in (await http.get("/secrets")).json()["secrets"]] == ["db_creds"]
        response = await http.put("/secrets/db_creds", json={"value": CREDS})
        assert response.status_code >= 400
        assert "read-only" in response.json()["error"]["message"]
        assert (await http.get("/health")).json()["secrets"] == {"backend": "env"}
    for response in served.responses:
        assert PASSWORD not in response.text


# -- health ----------------------------------------------------------------------------------


async def test_health_reports_resources_and_secrets(manager: SecretManager) -> None:
    async def unhealthy(resource: Any) -> bool:
        return False

    async def healthy(resource: Any) -> bool:
        return True

    async with gateway(settings(), manager) as served, served.client() as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "healthy"
        assert health["resources"] == {}
        assert health["secrets"] == {"backend": "given"}

        served.application.resources.register("fine", object(), health_check=healthy)
        assert (await http.get("/health")).json()["status"] == "healthy"

        served.application.resources.register("flaky", object(), health_check=unhealthy)
        health = (await http.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["resources"]["fine"]["status"] == "healthy"
        assert health["resources"]["flaky"]["status"] == "unhealthy"
        assert "returned False" in health["resources"]["flaky"]["error"]
        assert {"functions", "workflows"} <= set(health)


# -- composition -----------------------------------------------------------------------------


async def test_build_wires_the_builtin_types_shared_resources_and_settings() -> None:
    config = GatewayConfig(
        resources={"shared_cache": ResourceReference("cache", {"backend": "memory"})}
    )
    application = build(
        settings(
            secrets="off",
            resource_idle_ttl=7.0,
            resource_health_timeout=3.0,
            allow_inline_resources=True,
        ),
        config,
    )
    resources = application.resources
    assert resources.shared_names() == ["shared_cache"]
    assert resources.idle_ttl == 7.0
    with pytest.raises(ResourceConfigError) as caught:
        resources.checked_request({"r": {"type": "mystery"}})
    assert "known: cache, database, http_client, message_queue" in caught.value.message
    async with application:
        run = resources.lookup({"alias": "@shared_cache"})
        cache = await run("alias")
        assert cache is await run("shared_cache")
        run.release()
    with pytest.raises(ResourceUnavailableError, match="shutting down"):
        await resources.lookup({})("shared_cache")


async def test_start_fails_closed_on_a_memory_run_store_with_secrets_required() -> None:
    application = build(settings(secrets="database"))
    with pytest.raises(ConfigError, match="memory://"):
        await application.start()
    assert not application.started


async def test_check_secrets_refuses_a_shared_resource_needing_a_missing_key(
    tmp_path: Path,
) -> None:
    config = GatewayConfig(
        resources={"main_db": ResourceReference("database", {"backend": "sqlite"}, "db_creds")}
    )
    store = f"sqlite:///{tmp_path / 'runs.sqlite3'}"
    with pytest.raises(MasterKeyError) as caught:
        await check_secrets(Settings(run_store=store), config)
    assert "main_db needs 'db_creds'" in caught.value.message
    await check_secrets(Settings(run_store=store), GatewayConfig())  # nothing needed: starts
    await check_secrets(Settings(run_store=store, secrets="env"), config)


async def test_a_token_without_the_admin_scope_is_forbidden(manager: SecretManager) -> None:
    async with gateway(settings(), manager) as served:
        assert served.application.credentials is not None
        _, runner = await served.application.credentials.create(
            CredentialKind.TOKEN, "runner", scopes=["workflows:run", "runs:read", "ops:read"]
        )
        async with served.client(REMOTE, runner) as http:
            message = error_of(await http.get("/secrets"), 403, "Forbidden")
            assert message == "'runner' may not do this: it needs scope admin"
            assert (await http.get("/health")).status_code == 200
        _, operator = await served.application.credentials.create(
            CredentialKind.TOKEN, "ops", scopes=["admin"]
        )
        async with served.client(REMOTE, operator) as http:
            assert (await http.put("/secrets/db_creds", json={"value": CREDS})).status_code == 200
