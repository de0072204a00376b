"""The pure parts of Lambda authorizers: IAM policy evaluation (explicit Deny wins, ``*``
and ``?``), the answer formats, the events they receive, and the bounded result cache."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lockgate.models.context import InputContext
from lockgate.models.routing import Route, RouteMatch
from lockgate.models.security.authorizers import FunctionAuthorizer
from lockgate.use_cases.apigw.events import EventBuilder
from lockgate.use_cases.auth.authorizers.lambda_answers import (
    MalformedAnswerError,
    parse_answer,
)
from lockgate.use_cases.auth.authorizers.lambda_events import authorizer_event, execute_api_arn
from lockgate.use_cases.auth.authorizers.policy import parse_policy
from lockgate.use_cases.auth.authorizers.result_cache import ResultCache

ARN = "arn:aws:execute-api:us-east-1:000000000000:lockgate/$default/GET/orders/42"


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([statement("Allow", ARN)], True),
        ([statement("Allow", "arn:aws:execute-api:*")], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:*:lockgate/*/GET/*")], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:*:lockgate/*/POST/*")], False),
        ([statement("Allow", ARN[:-1] + "?")], True),
        ([statement("Allow", ARN[:-2] + "?")], False),
        ([statement("Allow", [ARN, "x"]), statement("Deny", "*/orders/*")], False),
        ([statement("Deny", "*/orders/7"), statement("Allow", "*")], True),
        ([statement("Allow", "*", action="execute-api:*")], True),
        ([statement("Allow", "*", action="*")], True),
        ([statement("Allow", "*", action="EXECUTE-API:INVOKE")], True),
        ([statement("Allow", "*", action="s3:GetObject")], False),
        ([statement("Deny", "*", action="s3:*"), statement("Allow", "*")], True),
        ([], False),
    ],
)
def test_policies_follow_iam_rules(statements: list[dict[str, Any]], allowed: bool) -> None:
    assert parse_policy(policy(*statements)).allows(ARN) is allowed


def test_a_single_statement_object_is_a_policy_too() -> None:
    assert parse_policy({"Statement": statement("Allow", "*")}).allows(ARN)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("Allow", "must be an object"),
        ({}, "needs 1 to 100 statements"),
        ({"Statement": [statement("Maybe", "*")]}, "Effect must be 'Allow' or 'Deny'"),
        ({"Statement": [statement("Allow", [])]}, "Resource must be a string"),
        ({"Statement": [{**statement("Allow", "*"), "Condition": {}}]}, "Condition"),
    ],
)
def test_malformed_policies_say_why(document: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_policy(document)


SIMPLE = FunctionAuthorizer("custom", function="authorize", simple_responses=True)
IAM_V2 = FunctionAuthorizer("custom", function="authorize")
IAM_V1 = FunctionAuthorizer("custom", function="authorize", payload_format="1.0")


def answer(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_simple_and_iam_answers_are_read() -> None:
    simple = parse_answer(answer({"isAuthorized": True, "context": {"user": "ann"}}), SIMPLE)
    assert simple.allows(ARN)
    assert simple.context == {"user": "ann"}
    denied = parse_answer(answer({"isAuthorized": False}), SIMPLE)
    assert not denied.allows(ARN)
    iam = parse_answer(
        answer({"principalId": "ann", "policyDocument": policy(statement("Allow", "*"))}), IAM_V1
    )
    assert iam.allows(ARN)
    assert iam.principal_id == "ann"


@pytest.mark.parametrize(
    ("authorizer", "value", "reason"),
    [
        (SIMPLE, {"allowed": True}, "needs isAuthorized"),
        (SIMPLE, {"isAuthorized": "yes"}, "needs isAuthorized"),
        (SIMPLE, [True], "a JSON object"),
        (SIMPLE, {"isAuthorized": True, "context": "x"}, "context must be an object"),
        (IAM_V2, {"isAuthorized": True}, "needs policyDocument"),
        (IAM_V1, {"policyDocument": policy()}, "needs principalId"),
        (IAM_V1, {"principalId": 5, "policyDocument": policy()}, "principalId must be a string"),
        (
            IAM_V1,
            {"principalId": "a", "policyDocument": policy(), "context": {"claims": "x"}},
            "'claims'",
        ),
        (
            IAM_V1,
            {"principalId": "a", "policyDocument": policy(), "context": {"list": [1]}},
            "strings, numbers or booleans",
        ),
    ],
)
def test_answers_of_another_format_are_malformed(
    authorizer: FunctionAuthorizer, value: Any, reason: str
) -> None:
    with pytest.raises(MalformedAnswerError, match=reason):
        parse_answer(answer(value), authorizer)
    with pytest.raises(MalformedAnswerError, match="not JSON"):
        parse_answer(b"{", authorizer)
    with pytest.raises(MalformedAnswerError, match="over 8192 bytes"):
        parse_answer(answer({"isAuthorized": True, "context": {"x": "y" * 9000}}), authorizer)


def request() -> tuple[InputContext, RouteMatch]:
    context = InputContext(
        path="/orders/42",
        method="GET",
        headers={"authorization": "Bearer abc", "host": "api.example.com", "x-b": "2"},
        query_params={"q": "1"},
        body=b"secret body",
        user_id=None,
        request_id="req-1",
        raw_headers=(("authorization", "Bearer abc"), ("host", "api.example.com"), ("x-b", "2")),
        raw_query_string="q=1",
        received_at=1_700_000_000.0,
    )
    return context, RouteMatch(Route("GET", "/orders/{id}", "orders"), {"id": "42"})


def test_the_authorizer_events_are_the_route_event_without_its_body() -> None:
    events = EventBuilder()
    context, match = request()
    assert execute_api_arn(events, context) == ARN
    v2 = authorizer_event(events, context, match, ("Bearer abc", "2"), "2.0")
    assert v2["version"] == "2.0"
    assert v2["type"] == "REQUEST"
    assert v2["routeArn"] == ARN
    assert v2["identitySource"] == ["Bearer abc", "2"]
    assert v2["routeKey"] == "GET /orders/{id}"
    assert v2["rawPath"] == "/orders/42"
    assert v2["rawQueryString"] == "q=1"
    assert v2["pathParameters"] == {"id": "42"}
    assert v2["requestContext"]["requestId"] == "req-1"
    assert v2["requestContext"]["http"]["method"] == "GET"
    assert "body" not in v2
    assert "isBase64Encoded" not in v2

    v1 = authorizer_event(events, context, match, ("Bearer abc", "2"), "1.0")
    assert v1["version"] == "1.0"
    assert v1["type"] == "REQUEST"
    assert v1["methodArn"] == ARN
    assert v1["identitySource"] == v1["authorizationToken"] == "Bearer abc,2"
    assert v1["resource"] == "/orders/{id}"
    assert v1["path"] == "/orders/42"
    assert v1["httpMethod"] == "GET"
    assert v1["multiValueHeaders"]["x-b"] == ["2"]
    assert v1["requestContext"]["resourcePath"] == "/orders/{id}"
    assert "body" not in v1


def test_the_result_cache_expires_and_stays_bounded() -> None:
    now = [0.0]
    cache: ResultCache[str] = ResultCache(10, max_entries=3, clock=lambda: now[0])
    cache.put(("a",), "A")
    assert cache.get(("a",)) == "A"
    now[0] = 10.0
    assert cache.get(("a",)) is None
    for index in range(10):
        cache.put((str(index),), str(index))
    assert len(cache) == 3
    assert cache.get(("9",)) == "9"
    assert cache.get(("0",)) is None
