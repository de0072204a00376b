"""What a route's authorizer and API key add to the function's event, field by field, in
both payload formats; checked against Powertools' models of API Gateway's events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import models

from lockgate.models.context import InputContext
from lockgate.models.routing import PayloadFormat, Route, RouteMatch
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.use_cases.apigw.events import EventBuilder
from lockgate.use_cases.auth.authorizers.identity import bearer_token, event_claims


def event(identity: RouteIdentity | None, payload_format: PayloadFormat) -> dict[str, Any]:
    context = InputContext(
        path="/orders",
        method="GET",
        headers={"host": "127.0.0.1:8000", "x-api-key": "lgk_secret"},
        query_params={},
        body=b"",
        user_id=None,
        request_id="req-1",
        received_at=1_700_000_000.0,
    )
    match = RouteMatch(Route("GET", "/orders", "orders", payload_format))
    builder = EventBuilder()
    if payload_format == "1.0":
        built = builder.build_v1(context, match, identity)
        models.APIGatewayProxyEventModel.model_validate(built)
    else:
        built = builder.build_v2(context, match, identity)
        models.APIGatewayProxyEventV2Model.model_validate(built)
    return built


CLAIMS = {
    "sub": "abc",
    "exp": 1700000000,
    "email_verified": True,
    "cognito:groups": ["admin", "poweruser"],
    "address": {"zip": "1000", "city": "X"},
    "ratio": 1.5,
    "nothing": None,
}


def test_claims_reach_the_event_as_strings_as_api_gateway_renders_them() -> None:
    assert event_claims(CLAIMS) == {
        "sub": "abc",
        "exp": "1700000000",
        "email_verified": "true",
        "cognito:groups": "[admin poweruser]",
        "address": "map[city:X zip:1000]",
        "ratio": "1.5",
    }


def test_a_jwt_route_event_carries_claims_and_scopes() -> None:
    identity = RouteIdentity(jwt_claims=event_claims(CLAIMS), jwt_scopes=("orders:read", "x"))
    v2 = event(identity, "2.0")["requestContext"]["authorizer"]
    assert v2 == {"jwt": {"claims": event_claims(CLAIMS), "scopes": ["orders:read", "x"]}}
    v1 = event(identity, "1.0")["requestContext"]["authorizer"]
    assert v1 == {"claims": event_claims(CLAIMS), "scopes": ["orders:read", "x"]}
    unscoped = RouteIdentity(jwt_claims={"sub": "abc"}, jwt_scopes=None)
    assert event(unscoped, "2.0")["requestContext"]["authorizer"]["jwt"]["scopes"] is None


def test_a_lambda_authorizers_context_lands_where_each_format_puts_it() -> None:
    identity = RouteIdentity(
        lambda_context={"user": "ann", "n": 1, "ok": True, "list": ["a"]},
        principal_id="ann",
        latency_ms=12,
    )
    v2 = event(identity, "2.0")["requestContext"]["authorizer"]
    assert v2 == {"lambda": {"user": "ann", "n": 1, "ok": True, "list": ["a"]}}
    v1 = event(identity, "1.0")["requestContext"]["authorizer"]
    assert v1 == {
        "user": "ann",
        "n": "1",
        "ok": "true",
        "list": '["a"]',
        "principalId": "ann",
        "integrationLatency": 12,
    }
    empty = RouteIdentity(lambda_context={})
    assert event(empty, "2.0")["requestContext"]["authorizer"] == {"lambda": {}}


def test_an_api_keys_id_reaches_the_rest_event() -> None:
    identity = RouteIdentity(api_key="lgk_secret", api_key_id="0123abcd")
    v1 = event(identity, "1.0")["requestContext"]
    assert v1["identity"]["apiKeyId"] == "0123abcd"
    assert v1["identity"]["apiKey"] == "lgk_secret"
    assert "authorizer" not in v1
    v2 = event(identity, "2.0")["requestContext"]
    assert "authorizer" not in v2  # HTTP APIs have no API keys: no field names one


def test_no_identity_leaves_the_event_as_it_was() -> None:
    assert "authorizer" not in event(None, "2.0")["requestContext"]
    assert event(None, "1.0")["requestContext"]["identity"]["apiKeyId"] is None


def test_bearer_prefixes_are_stripped_in_any_case() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("abc") == "abc"
