"""Route authorizers through a real ``lockgate serve``: JWT authorizers against an identity
provider on loopback (keys, discovery, every forged or stale token), Lambda authorizers
(simple responses and IAM policies, errors, the result cache, missing identity), and
``[auth] authorizer`` opening the workflow API on a public listener."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from tests.e2e.access_support import REMOTE, config
from tests.e2e.gateway_process import APP_DIR, GatewayProcess
from tests.jwt_support import AUDIENCE, IdentityProvider, SigningKey, forged_hs256, unsigned

UNAUTHORIZED = b'{"message":"Unauthorized"}'
FORBIDDEN = b'{"message":"Forbidden"}'
INTERNAL = b'{"message":"Internal Server Error"}'


def route(method: str, path: str, function: str, **keys: Any) -> str:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
    return f'\n[[routes]]\nmethod = "{method}"\npath = "{path}"\nfunction = "{function}"\n{extra}'


def tables(idp: IdentityProvider, calls: Path) -> str:
    code = json.dumps(str(APP_DIR))
    environment = f"environment = {{ AUTHORIZER_CALLS = {json.dumps(str(calls))} }}"
    return (
        f"""
[functions.rest_echo]
handler = "handlers:rest_echo"
code_dir = {code}

[functions.authorize]
handler = "handlers:authorize"
code_dir = {code}
timeout = 2
{environment}

[functions.authorize_iam]
handler = "handlers:authorize_iam"
code_dir = {code}
{environment}

[authorizers.users]
type = "jwt"
issuer = "{idp.issuer}"
audience = ["{AUDIENCE}"]
jwks_url = "{idp.jwks_url}"

[authorizers.discovered]
type = "jwt"
issuer = "{idp.issuer}"
audience = ["{AUDIENCE}"]
identity_source = "$request.querystring.token"

[authorizers.simple]
type = "function"
function = "authorize"
simple_responses = true
identity_source = ["$request.header.Authorization"]

[authorizers.cached]
type = "function"
function = "authorize"
simple_responses = true
identity_source = ["$request.header.Authorization", "$context.routeKey"]
ttl = 300

[authorizers.iam]
type = "function"
function = "authorize_iam"

[authorizers.iam_v1]
type = "function"
function = "authorize_iam"
payload_format = "1.0"
"""
        + route("GET", "/jwt", "echo", authorizer="users", scopes=["orders:read"])
        + route("GET", "/jwt-any", "echo", authorizer="users")
        + route(
            "GET",
            "/jwt-v1",
            "rest_echo",
            authorizer="users",
            scopes=["orders:write", "orders:read"],
            payload_format="1.0",
        )
        + route("GET", "/jwt-discovered", "echo", authorizer="discovered")
        + route("GET", "/lambda", "echo", authorizer="simple")
        + route("GET", "/lambda-cached", "echo", authorizer="cached")
        + route("GET", "/iam/{id}", "echo", authorizer="iam")
        + route("GET", "/iam-v1", "rest_echo", authorizer="iam_v1", payload_format="1.0")
    )


@dataclass
class Served:
    gateway: GatewayProcess
    idp: IdentityProvider
    calls: Path

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": token} if token is not None else {}
        return httpx.get(self.gateway.url + path, headers=headers, timeout=30, **kwargs)

    def recorded(self) -> list[dict[str, Any]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("authorizers")
    calls = folder / "calls.jsonl"
    with IdentityProvider(SigningKey.make("rsa-1"), SigningKey.make("ec-1", "ES256")) as idp:
        path = config(folder, tables(idp, calls))
        with GatewayProcess(path, env={"LOCKGATE_LOG_LEVEL": "INFO"}) as gateway:
            yield Served(gateway, idp, calls)


def event_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    event: dict[str, Any] = body["event"]
    return event


# -- JWT authorizers -------------------------------------------------------------------------


def test_a_good_token_reaches_the_function_with_its_claims_and_scopes(served: Served) -> None:
    token = served.idp.token(groups=["admin", "ops"], email_verified=True)
    event = event_of(served.get("/jwt", f"Bearer {token}"))
    jwt = event["requestContext"]["authorizer"]["jwt"]
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert jwt["claims"]["sub"] == "user-1"
    assert jwt["claims"]["iss"] == served.idp.issuer
    assert jwt["claims"]["exp"] == str(claims["exp"])
    assert jwt["claims"]["groups"] == "[admin ops]"
    assert jwt["claims"]["email_verified"] == "true"
    assert jwt["scopes"] == ["orders:read", "profile"]
    # No "Bearer " prefix works too; an ES256 key too; a route without scopes: null scopes.
    ec = served.idp.token(served.idp.keys[1])
    assert (
        event_of(served.get("/jwt-any", ec))["requestContext"]["authorizer"]["jwt"]["scopes"]
        is None
    )


def test_a_payload_1_0_route_gets_claims_and_scopes_in_authorizer(served: Served) -> None:
    token = served.idp.token()
    event = event_of(served.get("/jwt-v1", f"Bearer {token}"))
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["claims"]["sub"] == "user-1"
    assert authorizer["scopes"] == ["orders:read", "profile"]


def test_every_bad_token_is_401_with_the_exact_body(served: Served) -> None:
    idp = served.idp
    key = idp.keys[0]
    now = int(time.time())
    tokens = {
        "expired": idp.token(exp=now - 120),
        "not yet valid": idp.token(nbf=now + 120),
        "wrong issuer": idp.token(iss="https://elsewhere.example/"),
        "wrong audience": idp.token(aud="someone-else"),
        "alg none": unsigned(idp.claims(), key.kid),
        "HS256 with the public key": forged_hs256(idp.claims(), key),
        "another signer": idp.token(SigningKey.make(key.kid)),
        "garbage": "not.a.jwt",
    }
    for what, token in tokens.items():
        response = served.get("/jwt", f"Bearer {token}")
        assert response.status_code == 401, what
        assert response.content == UNAUTHORIZED, what
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer scope="" error="invalid_token" error_description="')
        assert token not in challenge
    audience = served.get("/jwt", f"Bearer {tokens['wrong audience']}")
    assert (
        'error_description="the token does not have a valid audience"'
        in (audience.headers["www-authenticate"])
    )
    log = served.gateway.read_output().decode()
    assert "route GET /jwt: authorizer users refused a token: the token has expired" in log
    assert all(token not in log for token in tokens.values())
    missing = served.get("/jwt")
    assert (missing.status_code, missing.content) == (401, UNAUTHORIZED)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert served.get("/jwt", "Bearer").status_code == 401


def test_a_token_without_the_routes_scope_is_403(served: Served) -> None:
    token = served.idp.token(scope="profile")
    response = served.get("/jwt", f"Bearer {token}")
    assert (response.status_code, response.content) == (403, FORBIDDEN)
    scp = served.idp.token(scope=None, scp=["orders:read"])
    assert served.get("/jwt", f"Bearer {scp}").status_code == 200


def test_a_rotated_key_is_accepted_and_discovery_finds_the_keys(served: Served) -> None:
    idp = served.idp
    assert served.get("/jwt-any", idp.token()).status_code == 200
    fetched = idp.hits["/jwks.json"]
    rotated = SigningKey.make("rsa-2")
    idp.keys.append(rotated)
    # The first token with the new kid makes the gateway fetch the keys again (its first
    # fetch of this kid cannot be rate-limited: the gateway fetched long enough ago, or
    # this retries until it has).
    for _ in range(40):
        response = served.get("/jwt-any", idp.token(rotated))
        if response.status_code == 200:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text
    assert idp.hits["/jwks.json"] > fetched
    # The query-string identity source, keys found through OpenID discovery.
    discovered = httpx.get(
        served.gateway.url + "/jwt-discovered", params={"token": idp.token()}, timeout=30
    )
    assert discovered.status_code == 200, discovered.text
    assert idp.hits["/.well-known/openid-configuration"] >= 1
    assert served.get("/jwt-discovered", f"Bearer {idp.token()}").status_code == 401


# -- Lambda authorizers ----------------------------------------------------------------------


def test_a_simple_authorizer_allows_and_denies(served: Served) -> None:
    before = len(served.recorded())
    allowed = event_of(served.get("/lambda", "allow-ann"))
    assert allowed["requestContext"]["authorizer"] == {"lambda": {"user": "allow-ann", "n": 1}}
    denied = served.get("/lambda", "deny-bob")
    assert (denied.status_code, denied.content) == (403, FORBIDDEN)
    calls = served.recorded()[before:]
    assert len(calls) == 2
    sent = calls[0]
    assert sent["version"] == "2.0"
    assert sent["type"] == "REQUEST"
    assert sent["identitySource"] == ["allow-ann"]
    assert sent["routeArn"] == (
        "arn:aws:execute-api:us-east-1:000000000000:lockgate/$default/GET/lambda"
    )
    assert sent["routeKey"] == "GET /lambda"
    assert sent["requestContext"]["apiId"] == allowed["requestContext"]["apiId"]
    assert "body" not in sent


def test_without_its_identity_source_the_authorizer_is_not_called(served: Served) -> None:
    before = len(served.recorded())
    response = served.get("/lambda")
    assert (response.status_code, response.content) == (401, UNAUTHORIZED)
    assert served.get("/lambda", "").status_code == 401
    assert len(served.recorded()) == before


def test_an_authorizer_that_fails_is_a_500(served: Served) -> None:
    for token in ("boom", "garbage", "slow"):
        response = served.get("/lambda", token)
        assert (response.status_code, response.content) == (500, INTERNAL), token
    unauthorized = served.get("/lambda", "unauthorized")
    assert (unauthorized.status_code, unauthorized.content) == (401, UNAUTHORIZED)
    log = served.gateway.read_output().decode()
    assert "authorizer simple failed: function 'authorize' raised an error" in log
    assert "answered in another format: a simple response needs isAuthorized" in log
    assert "authorizer simple failed: " in log


def test_cached_decisions_skip_the_function_within_ttl(served: Served) -> None:
    before = len(served.recorded())
    for _ in range(3):
        assert served.get("/lambda-cached", "allow-cache").status_code == 200
    for _ in range(2):
        assert served.get("/lambda-cached", "deny-cache").status_code == 403
    assert len(served.recorded()) == before + 2
    assert served.recorded()[-1]["identitySource"] == ["deny-cache", "GET /lambda-cached"]


def test_iam_policies_allow_and_deny_by_arn(served: Served) -> None:
    event = event_of(served.get("/iam/42", "allow"))
    assert event["requestContext"]["authorizer"] == {"lambda": {"tier": "gold", "level": 3}}
    for token in ("deny", "elsewhere"):
        denied = served.get("/iam/42", token)
        assert (denied.status_code, denied.content) == (403, FORBIDDEN), token
    v1 = event_of(served.get("/iam-v1", "allow"))
    authorizer = v1["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-allow"
    assert authorizer["tier"] == "gold"
    assert authorizer["level"] == "3"
    assert isinstance(authorizer["integrationLatency"], int)
    sent = served.recorded()[-1]
    assert sent["version"] == "1.0"
    assert sent["identitySource"] == sent["authorizationToken"] == "allow"
    assert sent["methodArn"].endswith("/$default/GET/iam-v1")


# -- [auth] authorizer -----------------------------------------------------------------------


def test_auth_authorizer_tokens_open_the_workflow_api_on_a_public_listener(
    tmp_path: Path,
) -> None:
    with IdentityProvider() as idp:
        extra = (
            f'[authorizers.users]\ntype = "jwt"\nissuer = "{idp.issuer}"\n'
            f'audience = ["{AUDIENCE}"]\njwks_url = "{idp.jwks_url}"\n'
            '[auth]\nauthorizer = "users"\n'
        )
        path = config(tmp_path, extra)
        env = {"LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path / 'runs.sqlite3'}"}
        with GatewayProcess(path, env=env, host="0.0.0.0") as gateway:
            remote = httpx.HTTPTransport(local_address=REMOTE)
            with httpx.Client(base_url=gateway.url, transport=remote, timeout=30) as http:
                runner = idp.token(sub="ann", scope="workflows:run runs:read:own openid")
                started = http.post(
                    "/workflows/pipeline/runs",
                    json={"parameters": {"numbers": [1, 2]}},
                    headers={"Authorization": f"Bearer {runner}"},
                )
                assert started.status_code == 200, started.text
                assert started.json()["principal"] == "jwt:ann"
                run_id = started.json()["run_id"]
                mine = http.get(f"/runs/{run_id}", headers={"Authorization": f"Bearer {runner}"})
                assert mine.json()["principal"] == "jwt:ann"

                reader = idp.token(sub="bob", scope="profile")
                refused = http.post(
                    "/workflows/pipeline/runs",
                    json={"parameters": {"numbers": [1]}},
                    headers={"Authorization": f"Bearer {reader}"},
                )
                assert refused.status_code == 403, refused.text
                expired = idp.token(exp=1)
                stale = http.get("/runs", headers={"Authorization": f"Bearer {expired}"})
                assert stale.status_code == 401
                assert "expired" in stale.json()["error"]["message"]
                assert expired not in stale.text
