"""EventBuilder: the v1 (REST) and v2 (HTTP API) proxy events AWS documents, field by field,
checked against a structural schema here and Powertools' Pydantic models when installed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import models
from hypothesis import given
from hypothesis import strategies as st

from lockgate.models.context import InputContext
from lockgate.models.routing import PayloadFormat, Route, RouteMatch
from lockgate.models.trace import TraceContext
from lockgate.use_cases.apigw.events import (
    EventBuilder,
    encode_body,
    format_request_time,
    with_trace_headers,
)

# 09/Apr/2015:12:34:56 UTC, the timestamp of AWS's own v1 example, plus 789 ms.
RECEIVED_AT = 1428582896.789

RAW_HEADERS = (
    ("host", "api.example.com:8080"),
    ("user-agent", "curl/8.0"),
    ("accept", "text/html"),
    ("accept", "application/json"),
    ("cookie", "a=1; b=2"),
    ("cookie", "c=3"),
    ("content-type", "application/json"),
)


def joined(raw: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The v2-style header map a controller derives from raw headers."""
    out: dict[str, str] = {}
    for name, value in raw:
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def make_context(**overrides: Any) -> InputContext:
    fields: dict[str, Any] = {
        "path": "/users/42/orders",
        "method": "POST",
        "headers": joined(RAW_HEADERS),
        "query_params": {"tag": "x,y", "q": "a b", "empty": ""},
        "body": b'{"item":"book"}',
        "user_id": None,
        "request_id": "req-123",
        "raw_headers": RAW_HEADERS,
        "raw_query_string": "tag=x&q=a+b&tag=y&empty=",
        "source_ip": "203.0.113.7",
        "protocol": "HTTP/1.1",
        "received_at": RECEIVED_AT,
    }
    fields.update(overrides)
    return InputContext(**fields)


def make_match(
    payload_format: PayloadFormat = "1.0",
    path: str = "/users/{id}/orders",
    params: Mapping[str, str] | None = None,
    method: str = "POST",
) -> RouteMatch:
    route = Route(method, path, "orders", payload_format)
    return RouteMatch(route, {"id": "42"} if params is None else params)


# --- a structural schema of the documented events -------------------------------------------

Schema = Mapping[str, Any]  # key -> type, tuple of types, or a nested Schema

V1_SCHEMA: Schema = {
    "resource": str,
    "path": str,
    "httpMethod": str,
    "headers": dict,
    "multiValueHeaders": dict,
    "queryStringParameters": (dict, type(None)),
    "multiValueQueryStringParameters": (dict, type(None)),
    "pathParameters": (dict, type(None)),
    "stageVariables": (dict, type(None)),
    "requestContext": {
        "resourceId": str,
        "resourcePath": str,
        "httpMethod": str,
        "requestId": str,
        "extendedRequestId": str,
        "accountId": str,
        "apiId": str,
        "stage": str,
        "path": str,
        "protocol": str,
        "domainName": str,
        "domainPrefix": str,
        "requestTime": str,
        "requestTimeEpoch": int,
        "identity": {"sourceIp": str, "userAgent": (str, type(None))},
    },
    "body": (str, type(None)),
    "isBase64Encoded": bool,
}
V2_SCHEMA: Schema = {
    "version": str,
    "routeKey": str,
    "rawPath": str,
    "rawQueryString": str,
    "headers": dict,
    "requestContext": {
        "accountId": str,
        "apiId": str,
        "domainName": str,
        "domainPrefix": str,
        "requestId": str,
        "routeKey": str,
        "stage": str,
        "time": str,
        "timeEpoch": int,
        "http": {
            "method": str,
            "path": str,
            "protocol": str,
            "sourceIp": str,
            "userAgent": str,
        },
    },
    "isBase64Encoded": bool,
}
V2_OPTIONAL: Schema = {
    "cookies": list,
    "queryStringParameters": dict,
    "pathParameters": dict,
    "body": str,
}


def check_shape(event: Mapping[str, Any], schema: Schema, where: str = "event") -> None:
    for key, expected in schema.items():
        assert key in event, f"{where}.{key} is missing"
        value = event[key]
        if isinstance(expected, Mapping):
            assert isinstance(value, dict), f"{where}.{key} is not an object"
            check_shape(value, expected, f"{where}.{key}")
        else:
            assert isinstance(value, expected), f"{where}.{key} is {type(value).__name__}"
            assert not isinstance(value, bool) or expected is bool, f"{where}.{key} is bool"


def check_v2_optional(event: Mapping[str, Any]) -> None:
    for key, expected in V2_OPTIONAL.items():
        if key in event:
            assert isinstance(event[key], expected), key
            assert event[key], f"{key} is present but empty; AWS leaves it out"


def check_string_maps(event: Mapping[str, Any], *keys: str) -> None:
    for key in keys:
        value = event.get(key)
        if value is None:
            continue
        for name, item in value.items():
            assert isinstance(name, str)
            if key.startswith("multiValue"):
                assert isinstance(item, list)
                assert all(isinstance(v, str) for v in item)
            else:
                assert isinstance(item, str)


# --- v1 --------------------------------------------------------------------------------------


def test_v1_top_level_fields() -> None:
    event = EventBuilder().build_v1(make_context(), make_match())
    check_shape(event, V1_SCHEMA)
    check_string_maps(
        event,
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
    )
    assert event["resource"] == "/users/{id}/orders"
    assert event["path"] == "/users/42/orders"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"item":"book"}'
    assert event["isBase64Encoded"] is False
    assert "version" not in event  # REST events carry no version


def test_v1_headers_keep_the_last_value_and_every_value_in_the_multi_form() -> None:
    event = EventBuilder().build_v1(make_context(), make_match())
    assert event["headers"]["accept"] == "application/json"
    assert event["multiValueHeaders"]["accept"] == ["text/html", "application/json"]
    # v1 keeps the Cookie header where it is.
    assert event["headers"]["cookie"] == "c=3"
    assert event["multiValueHeaders"]["cookie"] == ["a=1; b=2", "c=3"]
    assert event["multiValueHeaders"]["host"] == ["api.example.com:8080"]


def test_v1_query_string_is_decoded_last_value_wins_and_blanks_are_kept() -> None:
    event = EventBuilder().build_v1(make_context(), make_match())
    assert event["queryStringParameters"] == {"tag": "y", "q": "a b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "tag": ["x", "y"],
        "q": ["a b"],
        "empty": [""],
    }


def test_v1_empty_parts_are_null_as_aws_sends_them() -> None:
    context = make_context(query_params={}, raw_query_string="", body=b"")
    event = EventBuilder().build_v1(context, make_match(path="/users", params={}))
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_v1_request_context() -> None:
    builder = EventBuilder(api_id="abc123", stage="$default", account_id="123456789012")
    ctx = builder.build_v1(make_context(), make_match())["requestContext"]
    assert ctx["resourcePath"] == "/users/{id}/orders"
    assert ctx["httpMethod"] == "POST"
    assert ctx["requestId"] == "req-123"
    assert ctx["accountId"] == "123456789012"
    assert ctx["apiId"] == "abc123"
    assert ctx["stage"] == "$default"
    assert ctx["path"] == "/users/42/orders"
    assert ctx["protocol"] == "HTTP/1.1"
    assert ctx["domainName"] == "api.example.com"
    assert ctx["domainPrefix"] == "api"
    assert ctx["requestTime"] == "09/Apr/2015:12:34:56 +0000"
    assert ctx["requestTimeEpoch"] == 1428582896789
    assert ctx["identity"]["sourceIp"] == "203.0.113.7"
    assert ctx["identity"]["userAgent"] == "curl/8.0"
    assert ctx["identity"]["user"] is None
    assert ctx["identity"]["apiKey"] is None
    assert "authorizer" not in ctx


def test_v1_resource_id_is_stable_per_path_and_differs_between_paths() -> None:
    builder = EventBuilder()
    first = builder.build_v1(make_context(), make_match())["requestContext"]["resourceId"]
    again = EventBuilder().build_v1(make_context(), make_match())["requestContext"]["resourceId"]
    other = builder.build_v1(make_context(), make_match(path="/users/{id}/orders/{n}"))
    assert first == again
    assert len(first) == 6
    assert other["requestContext"]["resourceId"] != first


def test_v1_authorizer_carries_the_user() -> None:
    ctx = EventBuilder().build_v1(make_context(user_id="u-7"), make_match())["requestContext"]
    assert ctx["authorizer"] == {"principalId": "u-7", "claims": {"sub": "u-7"}}


def test_v1_named_stage_is_prefixed_to_the_context_path_only() -> None:
    event = EventBuilder(stage="prod").build_v1(make_context(), make_match())
    assert event["requestContext"]["stage"] == "prod"
    assert event["requestContext"]["path"] == "/prod/users/42/orders"
    assert event["path"] == "/users/42/orders"


def test_v1_without_raw_forms_falls_back_to_the_joined_maps() -> None:
    context = make_context(raw_headers=(), raw_query_string="", query_params={"a": "1"})
    event = EventBuilder().build_v1(context, make_match())
    assert event["headers"]["accept"] == "text/html,application/json"
    assert event["multiValueHeaders"]["accept"] == ["text/html,application/json"]
    assert event["queryStringParameters"] == {"a": "1"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1"]}


def test_v1_query_string_of_separators_only_is_null() -> None:
    context = make_context(raw_query_string="&", query_params={})
    event = EventBuilder().build_v1(context, make_match())
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


# --- v2 --------------------------------------------------------------------------------------


def test_v2_top_level_fields() -> None:
    event = EventBuilder().build_v2(make_context(), make_match("2.0"))
    check_shape(event, V2_SCHEMA)
    check_v2_optional(event)
    check_string_maps(event, "headers", "queryStringParameters", "pathParameters")
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /users/{id}/orders"
    assert event["rawPath"] == "/users/42/orders"
    assert event["rawQueryString"] == "tag=x&q=a+b&tag=y&empty="
    assert event["queryStringParameters"] == {"tag": "x,y", "q": "a b", "empty": ""}
    assert event["pathParameters"] == {"id": "42"}
    assert event["body"] == '{"item":"book"}'
    assert event["isBase64Encoded"] is False
    assert "stageVariables" not in event


def test_v2_cookies_move_out_of_the_headers() -> None:
    event = EventBuilder().build_v2(make_context(), make_match("2.0"))
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["accept"] == "text/html,application/json"
    assert event["headers"]["host"] == "api.example.com:8080"
    assert all(name == name.lower() for name in event["headers"])


def test_v2_cookies_from_the_joined_header_when_raw_headers_are_absent() -> None:
    context = make_context(raw_headers=(), headers={"cookie": "x=1;y=2", "host": "h"})
    event = EventBuilder().build_v2(context, make_match("2.0"))
    assert event["cookies"] == ["x=1", "y=2"]
    assert event["headers"] == {"host": "h"}


def test_v2_optional_fields_are_omitted_when_empty() -> None:
    context = make_context(
        raw_headers=(("host", "localhost"),),
        headers={"host": "localhost"},
        query_params={},
        raw_query_string="",
        body=b"",
    )
    event = EventBuilder().build_v2(context, make_match("2.0", path="/users", params={}))
    for key in ("cookies", "queryStringParameters", "pathParameters", "body", "stageVariables"):
        assert key not in event, key
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["userAgent"] == ""


def test_v2_request_context() -> None:
    builder = EventBuilder(api_id="abc123", account_id="123456789012")
    ctx = builder.build_v2(make_context(received_at=1584039838.5), make_match("2.0"))[
        "requestContext"
    ]
    assert ctx["accountId"] == "123456789012"
    assert ctx["apiId"] == "abc123"
    assert ctx["domainName"] == "api.example.com"
    assert ctx["domainPrefix"] == "api"
    assert ctx["requestId"] == "req-123"
    assert ctx["routeKey"] == "POST /users/{id}/orders"
    assert ctx["stage"] == "$default"
    assert ctx["time"] == "12/Mar/2020:19:03:58 +0000"
    assert ctx["timeEpoch"] == 1584039838500
    assert ctx["http"] == {
        "method": "POST",
        "path": "/users/42/orders",
        "protocol": "HTTP/1.1",
        "sourceIp": "203.0.113.7",
        "userAgent": "curl/8.0",
    }
    assert "authorizer" not in ctx


def test_v2_authorizer_carries_the_user_as_a_jwt_subject() -> None:
    ctx = EventBuilder().build_v2(make_context(user_id="u-7"), make_match("2.0"))
    assert ctx["requestContext"]["authorizer"] == {"jwt": {"claims": {"sub": "u-7"}}}


def test_v2_named_stage_is_prefixed_to_the_raw_path() -> None:
    event = EventBuilder(stage="beta").build_v2(make_context(), make_match("2.0"))
    assert event["rawPath"] == "/beta/users/42/orders"
    assert event["requestContext"]["http"]["path"] == "/beta/users/42/orders"
    assert event["requestContext"]["stage"] == "beta"


def test_v2_raw_query_string_is_rebuilt_when_only_the_map_is_known() -> None:
    context = make_context(raw_query_string="", query_params={"a": "1 2"})
    event = EventBuilder().build_v2(context, make_match("2.0"))
    assert event["rawQueryString"] == "a=1+2"
    assert event["queryStringParameters"] == {"a": "1 2"}


def test_v2_any_route_keeps_any_in_the_route_key_and_the_real_method_in_http() -> None:
    event = EventBuilder().build_v2(make_context(method="GET"), make_match("2.0", method="ANY"))
    assert event["routeKey"] == "ANY /users/{id}/orders"
    assert event["requestContext"]["http"]["method"] == "GET"


# --- both ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "name", "prefix"),
    [
        ("api.example.com:8080", "api.example.com", "api"),
        ("api.example.com", "api.example.com", "api"),
        ("localhost:3000", "localhost", "localhost"),
        ("[::1]:8080", "[::1]", "[::1]"),
        (None, "localhost", "localhost"),
    ],
)
def test_domain_name_and_prefix_come_from_the_host_header(
    host: str | None, name: str, prefix: str
) -> None:
    headers = {"host": host} if host is not None else {}
    context = make_context(headers=headers, raw_headers=tuple(headers.items()))
    builder = EventBuilder()
    for event in (
        builder.build_v1(context, make_match("1.0")),
        builder.build_v2(context, make_match("2.0")),
    ):
        assert event["requestContext"]["domainName"] == name
        assert event["requestContext"]["domainPrefix"] == prefix


@pytest.mark.parametrize("payload_format", ["1.0", "2.0"])
def test_build_returns_the_compact_json_of_the_chosen_format(
    payload_format: PayloadFormat,
) -> None:
    builder = EventBuilder()
    match = make_match(payload_format)
    raw = builder.build(make_context(), match)
    expected = builder.build_v1 if payload_format == "1.0" else builder.build_v2
    assert isinstance(raw, bytes)
    assert json.loads(raw) == expected(make_context(), match)
    assert raw == json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert ("version" in json.loads(raw)) is (payload_format == "2.0")


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", "text/plain", (None, False)),
        (b"hello", "text/plain", ("hello", False)),
        ("h\u00e9llo \u2603".encode(), None, ("h\u00e9llo \u2603", False)),
        (b"\xff\xfe\x00", "application/json", ("//4A", True)),
        (b"plain", "image/png", ("cGxhaW4=", True)),
        (b"plain", "application/octet-stream; charset=x", ("cGxhaW4=", True)),
        (b"plain", "Application/PDF", ("cGxhaW4=", True)),
    ],
)
def test_body_is_text_when_utf8_and_base64_when_binary(
    body: bytes, content_type: str | None, expected: tuple[str | None, bool]
) -> None:
    assert encode_body(body, content_type) == expected


def test_binary_content_type_header_makes_the_event_body_base64() -> None:
    headers = {"content-type": "image/png", "host": "h"}
    context = make_context(headers=headers, raw_headers=tuple(headers.items()), body=b"PNG")
    event = EventBuilder().build_v2(context, make_match("2.0"))
    assert event["isBase64Encoded"] is True
    assert event["body"] == "UE5H"


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (1428582896.999, "09/Apr/2015:12:34:56 +0000"),
        (1703980800, "31/Dec/2023:00:00:00 +0000"),
        (1582934400, "29/Feb/2020:00:00:00 +0000"),
    ],
)
def test_request_time_format(epoch: float, text: str) -> None:
    assert format_request_time(epoch) == text


def test_request_time_follows_the_clock_across_seconds() -> None:
    builder = EventBuilder()
    first = builder.build_v1(make_context(received_at=100.2), make_match())
    second = builder.build_v1(make_context(received_at=101.0), make_match())
    assert first["requestContext"]["requestTime"] == "01/Jan/1970:00:01:40 +0000"
    assert second["requestContext"]["requestTime"] == "01/Jan/1970:00:01:41 +0000"


@given(body=st.binary(max_size=512), payload_format=st.sampled_from(["1.0", "2.0"]))
def test_any_body_round_trips(body: bytes, payload_format: PayloadFormat) -> None:
    event = json.loads(EventBuilder().build(make_context(body=body), make_match(payload_format)))
    sent = event.get("body")
    if not body:
        assert sent is None
        assert event["isBase64Encoded"] is False
    elif event["isBase64Encoded"]:
        assert base64.b64decode(sent, validate=True) == body
    else:
        assert sent.encode("utf-8") == body


@given(text=st.text(max_size=256).filter(bool))
def test_utf8_text_is_never_base64(text: str) -> None:
    event = json.loads(EventBuilder().build(make_context(body=text.encode()), make_match("2.0")))
    assert event["isBase64Encoded"] is False
    assert event["body"] == text


# --- Powertools' own models of the AWS events -------------------------------------------------


@pytest.mark.parametrize("user_id", [None, "u-7"])
def test_events_validate_against_powertools_models(user_id: str | None) -> None:
    builder = EventBuilder(stage="prod")
    context = make_context(user_id=user_id)
    v1 = models.APIGatewayProxyEventModel.model_validate(
        json.loads(builder.build(context, make_match("1.0")))
    )
    v2 = models.APIGatewayProxyEventV2Model.model_validate(
        json.loads(builder.build(context, make_match("2.0")))
    )
    assert v1.requestContext.requestId == "req-123"
    assert v1.multiValueHeaders["accept"] == ["text/html", "application/json"]
    assert v2.cookies == ["a=1", "b=2", "c=3"]
    assert v2.requestContext.http.method == "POST"
    if user_id is not None:
        v1_authorizer = v1.requestContext.authorizer
        v2_authorizer = v2.requestContext.authorizer
        assert v1_authorizer is not None
        assert v1_authorizer.claims == {"sub": user_id}
        assert v2_authorizer is not None
        assert v2_authorizer.jwt is not None
        assert v2_authorizer.jwt.claims == {"sub": user_id}


def test_a_context_without_an_arrival_time_is_stamped_now() -> None:
    before = int(time.time() * 1000)
    event = EventBuilder().build_v2(make_context(received_at=None), make_match("2.0"))
    assert before <= event["requestContext"]["timeEpoch"] <= int(time.time() * 1000)


@pytest.mark.parametrize("payload_format", ["1.0", "2.0"])
def test_a_trace_given_to_build_puts_the_same_headers_as_a_traced_request(
    payload_format: PayloadFormat,
) -> None:
    trace = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)
    raw = (*RAW_HEADERS, ("traceparent", "00-old-old-01"), ("x-amzn-trace-id", "Root=old"))
    context = make_context(raw_headers=raw, headers=joined(raw))
    builder, match = EventBuilder(), make_match(payload_format)

    in_event = json.loads(builder.build(context, match, trace=trace))
    in_request = json.loads(builder.build(with_trace_headers(context, trace), match))

    assert in_event["headers"] == in_request["headers"]
    assert in_event["headers"]["traceparent"] == trace.traceparent
    assert in_event["headers"]["x-amzn-trace-id"] == trace.amzn_trace_id
    assert in_event.get("multiValueHeaders") == in_request.get("multiValueHeaders")
    assert context.headers["traceparent"] == "00-old-old-01"  # the request's own, untouched
