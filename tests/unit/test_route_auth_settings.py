"""``[authorizers.*]``, ``[usage_plans.*]``, routes' ``authorizer`` / ``scopes`` /
``api_key_required`` and ``[auth] authorizer``: what loads, and every mistake named by its
dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.config.settings import load_config
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.routing import Route
from lockgate.models.security.authorizers import (
    FunctionAuthorizer,
    IdentitySource,
    JwtAuthorizer,
    UsagePlan,
)
from lockgate.models.security.config import SecurityConfig
from tests.unit.config_files import config_error, write

ISSUE_EXAMPLE = """
[functions.orders]
handler = "handlers:orders"
[functions.authorize]
handler = "handlers:authorize"

[authorizers.users]
type = "jwt"
issuer = "https://login.example.com/"
audience = ["orders-api"]
jwks_url = "https://login.example.com/.well-known/jwks.json"
identity_source = "$request.header.Authorization"

[authorizers.custom]
type = "function"
function = "authorize"
payload_format = "2.0"
simple_responses = true
identity_source = ["$request.header.Authorization"]
ttl = 300

[authorizers.discovered]
type = "jwt"
issuer = "http://127.0.0.1:9999/realms/test"
audience = ["a", "b"]

[usage_plans.basic]
rate = 10
burst = 20
quota = {limit = 10000, period = "day"}

[usage_plans.free]
rate = 0.5
burst = 1

[[routes]]
method = "GET"
path = "/orders"
function = "orders"
authorizer = "users"
scopes = ["orders:read"]

[[routes]]
method = "POST"
path = "/orders"
function = "orders"
authorizer = "custom"
api_key_required = true

[auth]
authorizer = "users"
"""


def test_the_issues_example_loads(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, ISSUE_EXAMPLE))
    security = config.security
    assert security.authorizers["users"] == JwtAuthorizer(
        "users",
        issuer="https://login.example.com/",
        audience=("orders-api",),
        jwks_url="https://login.example.com/.well-known/jwks.json",
        identity_source=IdentitySource("header", "authorization"),
    )
    assert security.authorizers["custom"] == FunctionAuthorizer(
        "custom",
        function="authorize",
        payload_format="2.0",
        simple_responses=True,
        identity_source=(IdentitySource("header", "authorization"),),
        ttl=300,
    )
    discovered = security.authorizers["discovered"]
    assert isinstance(discovered, JwtAuthorizer)
    assert discovered.jwks_url is None
    assert discovered.discovery_url == (
        "http://127.0.0.1:9999/realms/test/.well-known/openid-configuration"
    )
    assert security.usage_plans == {
        "basic": UsagePlan("basic", 10.0, 20, 10000, "day"),
        "free": UsagePlan("free", 0.5, 1),
    }
    get, post = config.routes
    assert (get.authorizer, get.scopes, get.api_key_required) == ("users", ("orders:read",), False)
    assert (post.authorizer, post.scopes, post.api_key_required) == ("custom", (), True)
    assert security.auth.authorizer == "users"


BASE = '[functions.orders]\nhandler = "h:orders"\n'
JWT = '[authorizers.users]\ntype = "jwt"\nissuer = "https://idp.example/"\naudience = ["api"]\n'


def route(**keys: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in keys.items())
    return f'[[routes]]\nmethod = "GET"\npath = "/o"\nfunction = "orders"\n{extra}'


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            BASE + route(authorizer='"nobody"'),
            "routes[0].authorizer",
            "expected a declared authorizer (none declared), got 'nobody'",
        ),
        (
            BASE + JWT + route(authorizer='"other"'),
            "routes[0].authorizer",
            "expected a declared authorizer (users), got 'other'",
        ),
        (BASE + route(scopes='["a"]'), "routes[0].scopes", "need a jwt authorizer"),
        (BASE + route(api_key_required="true"), "routes[0].api_key_required", "[usage_plans"),
        (BASE + route(api_key_required='"yes"'), "routes[0].api_key_required", "true or false"),
        (BASE + "[auth]\nauthorizer = 'users'\n", "auth.authorizer", "declared jwt authorizer"),
        (
            BASE + '[authorizers.f]\ntype = "function"\nfunction = "missing"\n',
            "authorizers.f.function",
            "expected a declared function (orders), got 'missing'",
        ),
        (
            BASE
            + '[authorizers.f]\ntype = "function"\nfunction = "orders"\n[auth]\nauthorizer = "f"\n',
            "auth.authorizer",
            "expected a declared jwt authorizer (none declared), got 'f'",
        ),
        (BASE + "[authorizers.x]\nissuer = 'https://a/'\n", "authorizers.x.type", "'jwt'"),
        (BASE + "[authorizers.x]\ntype = 'saml'\n", "authorizers.x.type", "got 'saml'"),
        (
            BASE + JWT.replace("https://idp.example/", "http://idp.example/"),
            "authorizers.users.issuer",
            "http:// only to a loopback address",
        ),
        (BASE + JWT + "jwks_url = 'ftp://x/'\n", "authorizers.users.jwks_url", "https://"),
        (BASE + JWT.replace('["api"]', "[]"), "authorizers.users.audience", "1 to 50 strings"),
        (
            BASE + JWT + 'identity_source = "$request.body.token"\n',
            "authorizers.users.identity_source",
            "'$request.header.NAME'",
        ),
        (
            BASE + JWT + 'identity_source = ["$request.header.A", "$request.header.B"]\n',
            "authorizers.users.identity_source",
            "a JWT authorizer reads one identity source",
        ),
        (BASE + JWT + "leeway = 5\n", "authorizers.users.leeway", "unknown key"),
        (
            BASE + '[authorizers.f]\ntype = "function"\nfunction = "orders"\nttl = 3601\n',
            "authorizers.f.ttl",
            "≤ 3600",
        ),
        (
            BASE + '[authorizers.f]\ntype = "function"\nfunction = "orders"\nttl = 5\n'
            "identity_source = []\n",
            "authorizers.f",
            "cached by the identity sources",
        ),
        (
            BASE + '[authorizers.f]\ntype = "function"\nfunction = "orders"\n'
            'payload_format = "1.0"\nsimple_responses = true\n',
            "authorizers.f",
            'simple_responses needs payload_format = "2.0"',
        ),
        (
            BASE
            + '[authorizers.f]\ntype = "function"\nfunction = "orders"\n'
            + route(authorizer='"f"', scopes='["a"]'),
            "routes[0].scopes",
            "checked by a jwt authorizer only",
        ),
        (BASE + "[usage_plans.p]\nrate = 0\nburst = 1\n", "usage_plans.p.rate", "> 0"),
        (BASE + "[usage_plans.p]\nrate = 1\n", "usage_plans.p.burst", "missing"),
        (
            BASE + "[usage_plans.p]\nrate = 1\nburst = 1\nquota = {limit = 5, period = 'year'}\n",
            "usage_plans.p.quota.period",
            "'day', 'week', 'month'",
        ),
        (BASE + '[usage_plans."a b"]\nrate = 1\nburst = 1\n', 'usage_plans."a b"', "1-64"),
    ],
)
def test_a_mistake_is_named_by_its_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    error = config_error(tmp_path, text)
    assert f"{key}: " in error.message
    assert fragment in error.message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = BASE + route(authorizer='"x"', api_key_required="true") + "[auth]\nauthorizer = 'y'\n"
    error = config_error(tmp_path, text)
    assert set(error.fields["keys"]) == {
        "routes[0].authorizer",
        "routes[0].api_key_required",
        "auth.authorizer",
    }


def test_identity_sources_parse_as_http_apis_spell_them() -> None:
    assert IdentitySource.parse("$request.header.X-Token") == IdentitySource("header", "x-token")
    assert IdentitySource.parse("$request.querystring.Tok") == IdentitySource("querystring", "Tok")
    assert IdentitySource.parse("$context.routeKey").expression == "$context.routeKey"
    for bad in ("$request.header.", "$stageVariables.x", "Authorization", "$context.sourceIp"):
        with pytest.raises(ValueError, match="not an identity source"):
            IdentitySource.parse(bad)


def test_a_config_built_in_python_names_only_declared_authorizers() -> None:
    functions = load_functions()
    with pytest.raises(ValueError, match="names authorizer 'users', which is not declared"):
        GatewayConfig(functions=functions, routes=(Route("GET", "/a", "f", authorizer="users"),))
    authorizer = FunctionAuthorizer("custom", function="nope")
    with pytest.raises(ValueError, match="names function 'nope'"):
        GatewayConfig(
            functions=functions, security=SecurityConfig(authorizers={"custom": authorizer})
        )


def load_functions() -> dict[str, FunctionEntity]:
    return {"f": FunctionEntity(name="f", handler="h:f")}


def test_the_security_pages_example_loads(tmp_path: Path) -> None:
    page = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    section = page.split("## Routes: authorizers, API keys, usage plans", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config, _ = load_config(write(tmp_path, example))
    [orders] = [route for route in config.routes if route.method == "GET"]
    assert (orders.authorizer, orders.scopes, orders.api_key_required) == (
        "users",
        ("orders:read",),
        True,
    )
    assert set(config.security.authorizers) == {"users", "custom"}
    assert config.security.usage_plans["basic"].quota_limit == 10000
