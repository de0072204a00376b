"""Tokens, principals and the access table, without a server: ``CredentialService`` over the
in-memory store, ``Authenticator``, scopes, ``classify`` against every endpoint the app
serves, the start-up exposure check, the local admin token file and the CLI's choice of
token."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute

from lockgate.bootstrap import build
from lockgate.config.settings import Settings
from lockgate.controllers.cli.local_admin_token import (
    ensure_local_admin_token,
    forget_local_gateway,
    note_local_gateway,
    noted_token_file,
    read_local_admin_token,
)
from lockgate.controllers.cli.token import resolve_token
from lockgate.controllers.http.app import create_app
from lockgate.controllers.http.auth.access import PROBES, classify
from lockgate.controllers.http.openapi import gateway_openapi
from lockgate.errors import (
    ConfigError,
    CredentialExistsError,
    CredentialNotFoundError,
    InvalidRequestError,
    UnauthorizedError,
)
from lockgate.gateways.stores.credentials.memory import InMemoryCredentialStore
from lockgate.models.security.config import AuthConfig
from lockgate.models.security.principals import (
    ADMIN,
    FUNCTIONS_INVOKE,
    OPS_READ,
    RUNS_CANCEL,
    RUNS_READ_OWN,
    WORKFLOWS_RUN,
    CredentialKind,
    Principal,
    Surface,
    check_scope,
)
from lockgate.use_cases.auth.authenticator import Authenticator, StaticToken
from lockgate.use_cases.auth.credentials import CredentialService, hash_secret
from lockgate.use_cases.auth.exposure import anonymous_surfaces, check_exposure
from tests.support import ManualClock

ADMIN_TOKEN = "admin-token-3c1e9b7d5a20"


@pytest.fixture
def service(clock: ManualClock) -> CredentialService:
    return CredentialService(InMemoryCredentialStore(), cache_ttl=5, clock=clock)


# -- scopes and principals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    ["admin", "runs:read:own", "functions:invoke:echo", "workflows:run:reports-*", "ops:read"],
)
def test_known_scopes_are_accepted(scope: str) -> None:
    assert check_scope(scope) == scope


@pytest.mark.parametrize(
    "scope", ["", "admin:all", "runs:read:echo", "functions:invoke:", "functions:invoke:a/b", "x"]
)
def test_unknown_scopes_are_refused_naming_the_known_ones(scope: str) -> None:
    with pytest.raises(ValueError, match="expected one of functions:invoke, workflows:run"):
        check_scope(scope)


def test_narrowed_scopes_reach_only_their_names() -> None:
    reports = Principal("ci", "token", frozenset({"functions:invoke:reports-*"}))
    assert reports.allows(FUNCTIONS_INVOKE, "reports-daily")
    assert not reports.allows(FUNCTIONS_INVOKE, "billing")
    assert not reports.allows(FUNCTIONS_INVOKE)  # a listing needs allows_any
    assert reports.allows_any(FUNCTIONS_INVOKE)
    assert not reports.allows_any(WORKFLOWS_RUN)
    root = Principal("root", "token", frozenset({ADMIN}))
    assert all(root.allows(scope, "x") for scope in (OPS_READ, RUNS_CANCEL, WORKFLOWS_RUN))


# -- tokens --------------------------------------------------------------------------------


async def test_a_token_is_shown_once_and_stored_as_its_hash(service: CredentialService) -> None:
    credential, secret = await service.create(
        CredentialKind.TOKEN, "ci", scopes=["workflows:run", "workflows:run"]
    )
    assert secret.startswith("lg_")
    assert len(secret) > 40
    assert credential.secret_hash == hash_secret(secret)
    assert credential.scopes == ("workflows:run",)
    assert secret not in repr(credential)
    assert await service.authenticate(secret, CredentialKind.TOKEN) == credential
    assert await service.authenticate(secret, CredentialKind.API_KEY) is None
    assert await service.authenticate(secret + "x", CredentialKind.TOKEN) is None


@pytest.mark.parametrize(
    ("kind", "name", "scopes", "plan", "message"),
    [
        (CredentialKind.TOKEN, "-bad", ["admin"], None, "name '-bad' is invalid"),
        (CredentialKind.TOKEN, "ci", [], None, "a token needs at least one scope"),
        (CredentialKind.TOKEN, "ci", ["root"], None, "unknown scope 'root'"),
        (CredentialKind.API_KEY, "k", [], None, "an API key has a usage plan"),
        (CredentialKind.API_KEY, "k", ["admin"], "basic", "an API key has a usage plan"),
    ],
)
async def test_a_bad_credential_is_refused_saying_why(
    service: CredentialService,
    kind: CredentialKind,
    name: str,
    scopes: list[str],
    plan: str | None,
    message: str,
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        await service.create(kind, name, scopes=scopes, plan=plan)
    assert await service.list(kind) == []


async def test_a_name_in_use_is_a_conflict(service: CredentialService) -> None:
    await service.create(CredentialKind.TOKEN, "ci", scopes=["admin"])
    with pytest.raises(CredentialExistsError):
        await service.create(CredentialKind.TOKEN, "ci", scopes=["ops:read"])


async def test_revocation_here_is_at_once_elsewhere_within_the_cache_time(
    clock: ManualClock,
) -> None:
    store = InMemoryCredentialStore()
    here = CredentialService(store, cache_ttl=5, clock=clock)
    there = CredentialService(store, cache_ttl=5, clock=clock)  # another node, same store
    _, secret = await here.create(CredentialKind.TOKEN, "ci", scopes=["admin"])
    assert await there.authenticate(secret, CredentialKind.TOKEN) is not None

    await here.revoke(CredentialKind.TOKEN, "ci")

    assert await here.authenticate(secret, CredentialKind.TOKEN) is None
    assert await there.authenticate(secret, CredentialKind.TOKEN) is not None  # cached
    clock.advance(5.1)
    assert await there.authenticate(secret, CredentialKind.TOKEN) is None
    with pytest.raises(CredentialNotFoundError, match="no token named 'ci'"):
        await here.revoke(CredentialKind.TOKEN, "ci")


async def test_last_use_is_written_by_flush_not_by_the_request(service: CredentialService) -> None:
    credential, secret = await service.create(CredentialKind.TOKEN, "ci", scopes=["admin"])
    await service.authenticate(secret, CredentialKind.TOKEN)
    [before] = await service.store.list(CredentialKind.TOKEN)
    assert before.last_used_at is None
    [listed] = await service.list(CredentialKind.TOKEN)  # list flushes first
    assert listed.last_used_at is not None
    assert listed.credential_id == credential.credential_id


# -- the authenticator ---------------------------------------------------------------------


async def test_the_authenticator_knows_each_kind_of_bearer(service: CredentialService) -> None:
    _, secret = await service.create(CredentialKind.TOKEN, "ci", scopes=["runs:read"])
    authenticator = Authenticator(
        service,
        static=[
            StaticToken.admin(ADMIN_TOKEN, "admin", "admin_token"),
            StaticToken.admin("lga_local", "local-admin", "local_admin"),
        ],
    )
    assert await authenticator.principal(None) is None
    admin = await authenticator.principal(f"Bearer {ADMIN_TOKEN}")
    assert admin == Principal("admin", "admin_token", frozenset({ADMIN}))
    local = await authenticator.principal("bearer lga_local")
    assert local is not None
    assert local.kind == "local_admin"
    stored = await authenticator.principal(f"Bearer {secret}")
    assert stored == Principal("ci", "token", frozenset({"runs:read"}))
    assert authenticator.configured


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer lg_unknown", "not valid"),
        ("Bearer something-else", "not valid"),
        ("Bearer", "no bearer token"),
        ("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "unsupported Authorization scheme 'Basic'"),
        ("AWS4-HMAC-SHA256 Credential=x/20261207/us-east-1/lambda/aws4_request", "AWS"),
    ],
)
async def test_a_presented_credential_that_proves_nobody_is_unauthorized(
    service: CredentialService, header: str, reason: str
) -> None:
    with pytest.raises(UnauthorizedError, match=reason) as caught:
        await Authenticator(service).principal(header)
    assert caught.value.fields["presented"] is True


def test_a_static_token_hides_its_value() -> None:
    token = StaticToken.admin(ADMIN_TOKEN, "admin", "admin_token")
    assert ADMIN_TOKEN not in repr(token)
    assert token.matches(ADMIN_TOKEN)
    assert not token.matches(ADMIN_TOKEN[:-1])


# -- the access table ----------------------------------------------------------------------

# Every endpoint the gateway serves itself, and what it needs. A new endpoint fails this test
# until it is listed here: the table in access.py opens nothing by accident.
EXPECTED = {
    "/healthz": None,
    "/readyz": None,
    "/health": OPS_READ,
    "/metrics": OPS_READ,
    "/modules": OPS_READ,
    "/modules/{name}/health": OPS_READ,
    "/events/deliveries": OPS_READ,
    "/events/deliveries/redrive": ADMIN,
    "/events/deliveries/{delivery_id}": ADMIN,
    "/functions/logs": ADMIN,
    "/functions/{name}/logs": ADMIN,
    "/events/deliveries/{delivery_id}/redrive": ADMIN,
    "/_lockgate/openapi.json": OPS_READ,
    "/_lockgate/docs": OPS_READ,
    "/_lockgate/docs/oauth2-redirect": OPS_READ,
    "/workflows": WORKFLOWS_RUN,
    "/workflows/{workflow_id}": WORKFLOWS_RUN,
    "/workflows/{workflow_id}/runs": WORKFLOWS_RUN,
    "/runs": RUNS_READ_OWN,
    "/runs/{run_id}": RUNS_READ_OWN,
    "/runs/{run_id}/cancel": RUNS_CANCEL,
    "/2015-03-31/functions": FUNCTIONS_INVOKE,
    "/2015-03-31/functions/": FUNCTIONS_INVOKE,
    "/2015-03-31/functions/{function_name}": FUNCTIONS_INVOKE,
    "/secrets": ADMIN,
    "/secrets/{name}": ADMIN,
    "/jobs": ADMIN,
    "/jobs/{run_id}": ADMIN,
    "/jobs/{run_id}/cancel": ADMIN,
    "/invocations": ADMIN,
    "/invocations/redrive": ADMIN,
    "/invocations/{request_id}": ADMIN,
    "/invocations/{request_id}/redrive": ADMIN,
    "/tokens": ADMIN,
    "/tokens/{name}": ADMIN,
    "/api-keys": ADMIN,
    "/api-keys/{name}": ADMIN,
}


def _paths(routes: Iterable[Any]) -> Iterator[str]:
    for route in routes:
        if isinstance(route, BaseRoute) and hasattr(route, "path"):
            yield route.path.replace("{name:path}", "{name}")
        else:  # an included router (FastAPI keeps the original's routes)
            yield from _paths(route.original_router.routes)


def test_every_endpoint_the_app_serves_needs_what_the_table_says() -> None:
    app = create_app(build(Settings(run_store="memory://")))
    assert set(_paths(app.api.routes)) == set(EXPECTED)
    for template, scope in EXPECTED.items():
        path = template.replace("{", "x").replace("}", "x")
        assert classify(path).scope == scope, template
    invoke = classify(
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:echo:prod/invocations"
    )
    assert (invoke.scope, invoke.target, invoke.aws) == (FUNCTIONS_INVOKE, "echo", True)


def test_the_schema_says_what_the_table_guards_every_operation_with() -> None:
    """The OpenAPI schema's security requirements come from the same table: a client
    generated from it knows each operation's scope, and the probes ask for none."""
    app = create_app(build(Settings(run_store="memory://")))
    schema = gateway_openapi(app.api)
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {template}"
            if template in PROBES:
                assert "security" not in operation, where
                continue
            scope = EXPECTED.get(template, FUNCTIONS_INVOKE)  # Invoke is not FastAPI's
            assert operation["security"][0] == {"bearer": [scope]}, where
            assert scope in operation["responses"]["401"]["description"], where
            assert scope in operation["responses"]["403"]["description"], where
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "sigv4"}


@pytest.mark.parametrize(
    "path",
    [
        "/secrets/a/b",
        "/api-keys",
        "/tokens/x/y",
        "/jobs/",
        "/events",
        "/events/deliveries/x/redrive",
        "/events/deliveries/redrive",
    ],
)
def test_an_unknown_reserved_path_needs_admin(path: str) -> None:
    endpoint = classify(path)
    assert (endpoint.surface, endpoint.scope) == (None, ADMIN)


# -- failing closed at start-up ------------------------------------------------------------

EVERY = tuple(Surface)


def test_loopback_listeners_admit_anonymous_callers_unless_told_otherwise() -> None:
    assert anonymous_surfaces(AuthConfig(), loopback=True) == frozenset(Surface)
    assert anonymous_surfaces(AuthConfig(), loopback=False) == frozenset()
    chosen = AuthConfig(allow_anonymous=frozenset({Surface.OPERATIONS}))
    assert anonymous_surfaces(chosen, loopback=True) == {Surface.OPERATIONS}
    assert anonymous_surfaces(chosen, loopback=False) == {Surface.OPERATIONS}


def test_a_public_listener_needs_a_credential_for_each_closed_surface() -> None:
    def check(*, tokens: list[list[str]] = (), **kinds: bool) -> None:  # type: ignore[assignment]
        flags = {"admin_token": False, "jwt_authorizer": False, "aws_credentials": False, **kinds}
        check_exposure({"0.0.0.0": EVERY}, AuthConfig(), token_scopes=tokens, **flags)

    with pytest.raises(ConfigError) as caught:
        check()
    assert all(f"{s.value} on 0.0.0.0" in caught.value.message for s in Surface)

    with pytest.raises(ConfigError) as caught:
        check(tokens=[["functions:invoke:echo"], ["runs:read:own"]], aws_credentials=True)
    assert "operations on 0.0.0.0" in caught.value.message
    assert "workflow_api" not in caught.value.message
    assert "lambda_api" not in caught.value.message

    check(tokens=[["admin"]])
    check(admin_token=True)
    check(jwt_authorizer=True)
    check_exposure(
        {"127.0.0.1": EVERY, "::1": EVERY, "localhost": EVERY},
        AuthConfig(),
        token_scopes=[],
        admin_token=False,
        jwt_authorizer=False,
        aws_credentials=False,
    )


# -- the local admin token -----------------------------------------------------------------


def test_the_local_admin_token_is_made_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "admin.token"
    token = ensure_local_admin_token(path)
    assert token.startswith("lga_")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert ensure_local_admin_token(path) == token
    assert read_local_admin_token(path) == token

    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="may be read by others"):
        ensure_local_admin_token(path)
    assert read_local_admin_token(path) is None

    os.chmod(path, 0o600)
    path.write_text("something else\n")
    with pytest.raises(ConfigError, match="does not hold a local admin token"):
        ensure_local_admin_token(path)


def test_the_cli_sends_the_local_token_to_loopback_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_RUNTIME_DIR", str(tmp_path / "runtime"))
    token_file = tmp_path / "admin.token"
    token = ensure_local_admin_token(token_file)
    note_local_gateway(8123, token_file)
    assert noted_token_file(8123) == token_file.resolve()

    assert resolve_token(None, "http://127.0.0.1:8123") == token
    assert resolve_token(None, "http://[::1]:8123") == token
    assert resolve_token(None, "http://localhost:8123") == token
    assert resolve_token(None, "http://gateway.example:8123") is None
    assert resolve_token(None, "http://10.0.0.5:8123") is None
    assert resolve_token("lg_given", "http://gateway.example:8123") == "lg_given"

    forget_local_gateway(8123, token_file)
    assert noted_token_file(8123) is None


def test_each_app_documents_its_refusals_once() -> None:
    """Schemas made by several apps in one process do not add to each other's texts."""
    first = gateway_openapi(create_app(build(Settings(run_store="memory://"))).api)
    second = gateway_openapi(create_app(build(Settings(run_store="memory://"))).api)
    invoke = "/2015-03-31/functions/{FunctionName}/invocations"
    assert first["paths"][invoke] == second["paths"][invoke]
    assert second["paths"][invoke]["post"]["responses"]["403"]["description"].count("lacks") == 1
