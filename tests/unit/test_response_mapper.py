"""map_response: handler output to HTTP as API Gateway maps it, for payload formats 1.0 and
2.0, and HandlerResponseError (naming the field, never the payload) for whatever is malformed."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgate.errors import HandlerResponseError, http_status
from lockgate.models.context import HttpResponse
from lockgate.models.routing import PayloadFormat
from lockgate.use_cases.apigw.responses import map_response

BOTH: list[PayloadFormat] = ["1.0", "2.0"]


def out(value: object) -> bytes:
    return json.dumps(value).encode()


def header_values(response: HttpResponse, name: str) -> list[str]:
    return [v for n, v in response.headers if n.lower() == name.lower()]


# --- structured responses (both formats) -----------------------------------------------------


@pytest.mark.parametrize("payload_format", BOTH)
def test_structured_response(payload_format: PayloadFormat) -> None:
    response = map_response(
        out({"statusCode": 201, "headers": {"Content-Type": "text/html"}, "body": "<p>hi</p>"}),
        payload_format,
    )
    assert response.status_code == 201
    assert response.headers == (("Content-Type", "text/html"),)
    assert response.body == b"<p>hi</p>"


def test_v1_default_content_type_is_application_json() -> None:
    response = map_response(out({"statusCode": 200, "body": "{}"}), "1.0")
    assert response.headers == (("content-type", "application/json"),)


def test_v2_structured_default_content_type_is_text_plain() -> None:
    response = map_response(out({"statusCode": 200, "body": "hi"}), "2.0")
    assert response.headers == (("content-type", "text/plain; charset=utf-8"),)


@pytest.mark.parametrize("payload_format", BOTH)
def test_content_type_is_matched_case_insensitively(payload_format: PayloadFormat) -> None:
    response = map_response(
        out({"statusCode": 200, "headers": {"CONTENT-TYPE": "text/csv"}}), payload_format
    )
    assert response.headers == (("CONTENT-TYPE", "text/csv"),)


@pytest.mark.parametrize("payload_format", BOTH)
def test_null_content_type_suppresses_the_default(payload_format: PayloadFormat) -> None:
    response = map_response(
        out({"statusCode": 204, "headers": {"Content-Type": None, "X-A": "1"}}), payload_format
    )
    assert response.headers == (("X-A", "1"),)
    assert response.body == b""


@pytest.mark.parametrize("payload_format", BOTH)
@pytest.mark.parametrize(
    ("value", "sent"), [(3, "3"), (1.5, "1.5"), (True, "true"), (False, "false"), ("s", "s")]
)
def test_scalar_header_values_are_sent_as_their_json_text(
    payload_format: PayloadFormat, value: object, sent: str
) -> None:
    response = map_response(out({"statusCode": 200, "headers": {"X-V": value}}), payload_format)
    assert header_values(response, "X-V") == [sent]


@pytest.mark.parametrize("payload_format", BOTH)
def test_null_body_is_empty(payload_format: PayloadFormat) -> None:
    assert map_response(out({"statusCode": 200, "body": None}), payload_format).body == b""
    assert map_response(out({"statusCode": 200}), payload_format).body == b""


@pytest.mark.parametrize("payload_format", BOTH)
def test_text_body_is_utf8(payload_format: PayloadFormat) -> None:
    response = map_response(out({"statusCode": 200, "body": "h\u00e9 \u2603"}), payload_format)
    assert response.body == "h\u00e9 \u2603".encode()


@pytest.mark.parametrize("payload_format", BOTH)
def test_base64_body_is_decoded(payload_format: PayloadFormat) -> None:
    raw = bytes(range(256))
    payload = {"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    assert map_response(out(payload), payload_format).body == raw


@pytest.mark.parametrize("payload_format", BOTH)
def test_base64_flag_false_leaves_the_body_as_text(payload_format: PayloadFormat) -> None:
    payload = {"statusCode": 200, "body": "aGk=", "isBase64Encoded": False}
    assert map_response(out(payload), payload_format).body == b"aGk="


@pytest.mark.parametrize("payload_format", BOTH)
def test_framing_headers_are_remapped(payload_format: PayloadFormat) -> None:
    payload = {"statusCode": 200, "headers": {"Content-Length": "999", "X-Ok": "1"}, "body": "a"}
    response = map_response(out(payload), payload_format)
    assert header_values(response, "x-amzn-Remapped-Content-Length") == ["999"]
    assert header_values(response, "Content-Length") == []
    assert header_values(response, "X-Ok") == ["1"]


# --- payload 1.0 -----------------------------------------------------------------------------


def test_v1_multi_value_headers_merge_with_headers_once_per_pair() -> None:
    payload = {
        "statusCode": 200,
        "headers": {"X-A": "1", "x-b": "solo", "Content-Type": "text/plain"},
        "multiValueHeaders": {"x-a": ["1", "2"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "ok",
    }
    response = map_response(out(payload), "1.0")
    assert response.headers == (
        ("x-a", "1"),
        ("x-a", "2"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("x-b", "solo"),
        ("Content-Type", "text/plain"),
    )


def test_v1_content_type_in_multi_value_headers_counts() -> None:
    payload = {"statusCode": 200, "multiValueHeaders": {"Content-Type": ["text/plain"]}}
    assert map_response(out(payload), "1.0").headers == (("Content-Type", "text/plain"),)


def test_v1_ignores_cookies() -> None:
    response = map_response(out({"statusCode": 200, "cookies": ["a=1"]}), "1.0")
    assert header_values(response, "set-cookie") == []


def test_v1_ignores_unknown_keys() -> None:
    response = map_response(out({"statusCode": 200, "body": "x", "extra": {"a": 1}}), "1.0")
    assert response.status_code == 200
    assert response.body == b"x"


# --- payload 2.0 -----------------------------------------------------------------------------


def test_v2_cookies_become_separate_set_cookie_headers() -> None:
    payload = {
        "statusCode": 200,
        "headers": {"content-type": "text/plain"},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
        "body": "ok",
    }
    response = map_response(out(payload), "2.0")
    assert response.headers == (
        ("content-type", "text/plain"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2; HttpOnly"),
    )


def test_v2_ignores_multi_value_headers() -> None:
    payload = {"statusCode": 200, "multiValueHeaders": {"X-A": ["1"]}, "headers": {"X-B": "2"}}
    response = map_response(out(payload), "2.0")
    assert header_values(response, "X-A") == []
    assert header_values(response, "X-B") == ["2"]


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        (b'{"message": "hi", "n": [1, 2]}', b'{"message": "hi", "n": [1, 2]}'),
        (b'"Hello from Lambda!"', b"Hello from Lambda!"),
        (b'"caf\\u00e9"', "caf\u00e9".encode()),
        (b'""', b""),
        (b"42", b"42"),
        (b"1.5", b"1.5"),
        (b"true", b"true"),
        (b"[1,2]", b"[1,2]"),
        (b"null", b"null"),
        (b"{}", b"{}"),
    ],
)
def test_v2_output_without_status_code_is_inferred(payload: bytes, body: bytes) -> None:
    response = map_response(payload, "2.0")
    assert response.status_code == 200
    assert response.headers == (("content-type", "application/json"),)
    assert response.body == body


def test_v2_object_with_a_body_but_no_status_code_is_the_body_itself() -> None:
    payload = b'{"body":"x","headers":{"a":"b"}}'
    response = map_response(payload, "2.0")
    assert response.status_code == 200
    assert response.body == payload
    assert response.headers == (("content-type", "application/json"),)


# --- malformed output ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "payload_format", "fragment"),
    [
        (b"not json", "1.0", "not valid JSON"),
        (b"{", "2.0", "not valid JSON"),
        (b"", "2.0", "not valid JSON"),
        (b"\xff\xfe{", "1.0", "not valid JSON"),
        (b"NaN", "2.0", "not valid JSON"),
        (b'{"statusCode": Infinity}', "1.0", "not valid JSON"),
        (b"[1]", "1.0", "must be a JSON object, got array"),
        (b'"hi"', "1.0", "must be a JSON object, got string"),
        (b"null", "1.0", "must be a JSON object, got null"),
        (b'{"body": "x"}', "1.0", "no statusCode"),
        (b'{"statusCode": "200"}', "1.0", "statusCode must be an integer, got string"),
        (b'{"statusCode": "200"}', "2.0", "statusCode must be an integer, got string"),
        (b'{"statusCode": null}', "2.0", "statusCode must be an integer, got null"),
        (b'{"statusCode": true}', "1.0", "statusCode must be an integer, got boolean"),
        (b'{"statusCode": 200.0}', "1.0", "statusCode must be an integer, got number"),
        (b'{"statusCode": 99}', "1.0", "between 100 and 599"),
        (b'{"statusCode": 600}', "2.0", "between 100 and 599"),
        (b'{"statusCode": 200, "body": 5}', "1.0", "body must be a string, got number"),
        (b'{"statusCode": 200, "body": {"a": 1}}', "2.0", "body must be a string, got object"),
        (b'{"statusCode": 200, "headers": []}', "1.0", "headers must be an object, got array"),
        (b'{"statusCode": 200, "headers": "x"}', "2.0", "headers must be an object, got string"),
        (b'{"statusCode": 200, "headers": {"a": [1]}}', "1.0", "headers values must be"),
        (b'{"statusCode": 200, "headers": {"a": {}}}', "2.0", "got object"),
        (b'{"statusCode": 200, "headers": {"a b": "1"}}', "1.0", "not a valid HTTP token"),
        (b'{"statusCode": 200, "headers": {"": "1"}}', "2.0", "not a valid HTTP token"),
        (b'{"statusCode": 200, "headers": {"a": "1\\r\\nX: y"}}', "1.0", "control character"),
        (b'{"statusCode": 200, "headers": {"a": "\\u20ac"}}', "2.0", "outside Latin-1"),
        (b'{"statusCode": 200, "multiValueHeaders": {"a": "1"}}', "1.0", "must be arrays"),
        (b'{"statusCode": 200, "multiValueHeaders": []}', "1.0", "must be an object"),
        (b'{"statusCode": 200, "multiValueHeaders": {"a": [[1]]}}', "1.0", "got array"),
        (b'{"statusCode": 200, "cookies": "a=1"}', "2.0", "cookies must be an array"),
        (b'{"statusCode": 200, "cookies": [1]}', "2.0", "cookies must hold strings"),
        (b'{"statusCode": 200, "cookies": ["a\\n"]}', "2.0", "control character"),
        (b'{"statusCode": 200, "isBase64Encoded": "true"}', "1.0", "must be a boolean"),
        (b'{"statusCode": 200, "isBase64Encoded": 1, "body": "aA=="}', "2.0", "boolean"),
        (b'{"statusCode": 200, "isBase64Encoded": true, "body": "a"}', "1.0", "not valid base64"),
        (b'{"statusCode": 200, "isBase64Encoded": true, "body": "!!!!"}', "2.0", "base64"),
        (b'{"statusCode": 200, "isBase64Encoded": true, "body": "\\u00e9="}', "2.0", "base64"),
    ],
)
def test_malformed_output_raises_naming_the_problem(
    payload: bytes, payload_format: PayloadFormat, fragment: str
) -> None:
    with pytest.raises(HandlerResponseError, match=fragment) as caught:
        map_response(payload, payload_format)
    assert http_status(caught.value) == 502


@pytest.mark.parametrize("payload_format", BOTH)
def test_error_messages_never_echo_the_payload(payload_format: PayloadFormat) -> None:
    secret = "sk_live_SECRET"
    bad = [
        {"statusCode": secret},
        {"statusCode": 200, "body": {"token": secret}},
        {"statusCode": 200, "headers": {"X-Token": secret + "\n"}},
        {"statusCode": 200, "headers": {secret + " x": "v"}},
        {"statusCode": 200, "isBase64Encoded": True, "body": secret + "!"},
    ]
    for payload in bad:
        with pytest.raises(HandlerResponseError) as caught:
            map_response(out(payload), payload_format)
        assert secret not in str(caught.value)
        assert "SECRET" not in repr(caught.value)
    with pytest.raises(HandlerResponseError) as caught:
        map_response(secret.encode(), payload_format)
    assert secret not in str(caught.value)


# --- properties ------------------------------------------------------------------------------


@given(body=st.binary(max_size=512), payload_format=st.sampled_from(BOTH))
def test_any_bytes_round_trip_through_base64(body: bytes, payload_format: PayloadFormat) -> None:
    payload = {
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
    assert map_response(out(payload), payload_format).body == body


@given(text=st.text(max_size=256), payload_format=st.sampled_from(BOTH))
def test_any_text_body_round_trips_as_utf8(text: str, payload_format: PayloadFormat) -> None:
    # Lone surrogates cannot be sent as UTF-8; API Gateway replaces them, and so do we.
    expected = text.encode("utf-8", "replace")
    response = map_response(out({"statusCode": 200, "body": text}), payload_format)
    assert response.body == expected


@given(
    status=st.integers(min_value=100, max_value=599),
    headers=st.dictionaries(
        st.from_regex(r"X-[A-Za-z0-9]{1,10}", fullmatch=True),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
        max_size=5,
    ),
)
def test_valid_structured_output_keeps_status_and_headers(
    status: int, headers: dict[str, str]
) -> None:
    payload = {"statusCode": status, "headers": {"Content-Type": "text/plain", **headers}}
    for payload_format in BOTH:
        response = map_response(out(payload), payload_format)
        assert response.status_code == status
        assert dict(response.headers) == {"Content-Type": "text/plain", **headers}
