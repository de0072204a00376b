"""``map_response``: a handler's JSON return value in, the HTTP response API Gateway sends out.

Payload format ``"1.0"`` (REST API proxy response) needs an object with ``statusCode``;
``headers`` and ``multiValueHeaders`` are merged, a key/value pair given in both appearing
once. Payload format ``"2.0"`` (HTTP API) takes the same object plus ``cookies``; and when the
output is any JSON without ``statusCode``, API Gateway infers ``200``, ``application/json`` and
uses the output itself as the body (a bare JSON string becomes the body's text, unquoted, as in
AWS's own example and SAM's ``_parse_v2_payload_format_lambda_output``).

Whatever cannot be mapped raises ``HandlerResponseError``; its message names the field and
the JSON type found, never the payload, which may hold user data.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from lockgate.errors import HandlerResponseError
from lockgate.models.context import HttpResponse
from lockgate.models.routing import PayloadFormat

__all__ = [
    "DEFAULT_CONTENT_TYPE_V1",
    "DEFAULT_CONTENT_TYPE_V2",
    "INFERRED_CONTENT_TYPE",
    "REMAPPED_HEADERS",
    "map_response",
]

# REST API adds application/json when the function sends no Content-Type (aws-sam-cli#1218);
# HTTP API adds text/plain for a structured response without one (fujiwara/ridge#9) and
# application/json when it infers the whole response (AWS's payload 2.0 documentation).
DEFAULT_CONTENT_TYPE_V1 = "application/json"
DEFAULT_CONTENT_TYPE_V2 = "text/plain; charset=utf-8"
INFERRED_CONTENT_TYPE = "application/json"

# Headers that frame the HTTP message are the gateway's, not the function's: API Gateway
# passes a function's value on as ``x-amzn-Remapped-<name>`` instead, so a stale
# Content-Length cannot corrupt the response.
REMAPPED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A value the HTTP server can send: visible Latin-1, space and tab; no CR/LF (injection).
_BAD_VALUE_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


def map_response(payload: bytes, payload_format: PayloadFormat) -> HttpResponse:
    """The HTTP response for a handler's JSON-encoded return value.

    Raises:
        HandlerResponseError: the output is not JSON or not a valid proxy response.
    """
    try:
        # orjson refuses NaN and Infinity (Python extensions, not JSON), as API Gateway does.
        output = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise HandlerResponseError("handler output is not valid JSON") from None

    if payload_format == "1.0":
        if not isinstance(output, dict):
            raise HandlerResponseError(
                f"payload 1.0 output must be a JSON object, got {_json_type(output)}"
            )
        if "statusCode" not in output:
            raise HandlerResponseError("payload 1.0 output has no statusCode")
        return _structured(output, v2=False)

    if isinstance(output, dict) and "statusCode" in output:
        return _structured(output, v2=True)
    # Inferred response: the output is the body. A JSON string is its own text; anything
    # else is passed on as the JSON the function returned.
    body = output.encode("utf-8", "replace") if isinstance(output, str) else payload
    return HttpResponse(200, (("content-type", INFERRED_CONTENT_TYPE),), body)


def _structured(output: Mapping[str, Any], *, v2: bool) -> HttpResponse:
    status = output["statusCode"]
    # bool is an int in Python but not in JSON; API Gateway rejects true/false.
    if not isinstance(status, int) or isinstance(status, bool):
        raise HandlerResponseError(f"statusCode must be an integer, got {_json_type(status)}")
    if not 100 <= status <= 599:
        raise HandlerResponseError("statusCode must be between 100 and 599")

    pairs, content_type_given = _headers(output, v2=v2)
    if v2:
        _add_cookies(output.get("cookies"), pairs)
    if not content_type_given:
        default = DEFAULT_CONTENT_TYPE_V2 if v2 else DEFAULT_CONTENT_TYPE_V1
        pairs.insert(0, ("content-type", default))
    return HttpResponse(status, _remap(pairs), _body(output))


def _headers(output: Mapping[str, Any], *, v2: bool) -> tuple[list[tuple[str, str]], bool]:
    """The response's header pairs, and whether the function set Content-Type (even to null,
    which suppresses the default as it does on AWS)."""
    pairs: list[tuple[str, str]] = []
    content_type_given = False
    seen: set[tuple[str, str]] = set()
    if not v2:
        # multiValueHeaders first, then each header not already there (AWS's merge rule).
        # Payload 2.0 has no multiValueHeaders; HTTP API ignores the key, and so do we.
        multi = _object_or_none(output.get("multiValueHeaders"), "multiValueHeaders")
        for name, values in (multi or {}).items():
            content_type_given |= _check_name(name, "multiValueHeaders")
            if values is None:
                continue
            if not isinstance(values, list):
                raise HandlerResponseError(
                    f"multiValueHeaders values must be arrays, got {_json_type(values)}"
                )
            for item in values:
                value = _header_value(item, "multiValueHeaders")
                if value is not None:
                    pairs.append((name, value))
                    seen.add((name.lower(), value))
    headers = _object_or_none(output.get("headers"), "headers")
    for name, item in (headers or {}).items():
        content_type_given |= _check_name(name, "headers")
        value = _header_value(item, "headers")
        if value is not None and (name.lower(), value) not in seen:
            pairs.append((name, value))
    return pairs, content_type_given


def _add_cookies(cookies: object, pairs: list[tuple[str, str]]) -> None:
    """Payload 2.0 ``cookies``: each one becomes its own Set-Cookie header."""
    if cookies is None:
        return
    if not isinstance(cookies, list):
        raise HandlerResponseError(f"cookies must be an array, got {_json_type(cookies)}")
    for cookie in cookies:
        if not isinstance(cookie, str):
            raise HandlerResponseError(f"cookies must hold strings, got {_json_type(cookie)}")
        _check_value(cookie, "cookies")
        pairs.append(("set-cookie", cookie))


def _body(output: Mapping[str, Any]) -> bytes:
    body = output.get("body")
    is_base64 = output.get("isBase64Encoded")
    if is_base64 is not None and not isinstance(is_base64, bool):
        raise HandlerResponseError(
            f"isBase64Encoded must be a boolean, got {_json_type(is_base64)}"
        )
    if body is None:
        return b""
    if not isinstance(body, str):
        # API Gateway: "Lambda body contains the wrong type for field "body"".
        raise HandlerResponseError(f"body must be a string, got {_json_type(body)}")
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HandlerResponseError(
                "body is not valid base64 (isBase64Encoded is true)"
            ) from None
    return body.encode("utf-8", "replace")


def _remap(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"x-amzn-Remapped-{name}", value) if name.lower() in REMAPPED_HEADERS else (name, value)
        for name, value in pairs
    )


def _object_or_none(value: object, field: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise HandlerResponseError(f"{field} must be an object, got {_json_type(value)}")


def _check_name(name: str, field: str) -> bool:
    """Refuse a name that is not an HTTP token; True when the name is Content-Type."""
    if _TOKEN.fullmatch(name) is None:
        raise HandlerResponseError(f"{field} has a header name that is not a valid HTTP token")
    return name.lower() == "content-type"


def _header_value(value: object, field: str) -> str | None:
    """A header value as API Gateway sends it; None means leave the header out."""
    if isinstance(value, str):
        _check_value(value, field)
        return value
    if value is None:
        return None
    # Numbers and booleans are sent as their JSON text ("true", "3", "1.5").
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise HandlerResponseError(
        f"{field} values must be strings, numbers or booleans, got {_json_type(value)}"
    )


def _check_value(value: str, field: str) -> None:
    if _BAD_VALUE_CHAR.search(value) is not None:
        raise HandlerResponseError(
            f"{field} has a value with a control character or a character outside Latin-1"
        )


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
