"""``EventBuilder``: an ``InputContext`` and its route in, an API Gateway proxy event out.

Builds the two event shapes AWS documents for Lambda proxy integrations:

* payload format ``"1.0"``: the REST API proxy event (``resource``, ``multiValueHeaders``,
  ``requestContext.identity``...), see "Set up Lambda proxy integrations in API Gateway";
* payload format ``"2.0"``: the HTTP API event (``rawPath``, ``cookies``, comma-joined repeats),
  see "Create AWS Lambda proxy integrations for HTTP APIs".

This runs once per request, so per-builder constants are computed once and each event is a
handful of dict literals with no intermediate copies.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from lockgate.models.context import InputContext
from lockgate.models.routing import Route, RouteMatch
from lockgate.models.security.route_identity import RouteIdentity
from lockgate.models.trace import TraceContext
from lockgate.use_cases.apigw.identity import add_identity_v1, add_identity_v2

__all__ = [
    "BINARY_CONTENT_TYPES",
    "EventBuilder",
    "encode_body",
    "format_request_time",
    "with_trace_headers",
]

# Content types whose bodies go base64 even when they happen to decode as UTF-8: a PNG or a
# gzip stream that is valid UTF-8 by accident must still reach the handler byte for byte.
BINARY_CONTENT_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/protobuf",
        "application/x-protobuf",
        "application/vnd.google.protobuf",
        "application/wasm",
        "application/cbor",
        "application/msgpack",
        "application/x-msgpack",
    }
)
_BINARY_MAIN_TYPES = frozenset({"image", "audio", "video", "font"})

# strftime's %b follows the C locale; AWS always writes English month names.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_request_time(epoch_seconds: float) -> str:
    """``"09/Apr/2015:12:34:56 +0000"``, API Gateway's ``requestTime`` / ``time`` format."""
    t = time.gmtime(epoch_seconds)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


_TRACE_HEADERS = frozenset({"traceparent", "x-amzn-trace-id"})


def with_trace_headers(context: InputContext, trace: TraceContext) -> InputContext:
    """``context`` with ``traceparent`` and ``X-Amzn-Trace-Id`` naming ``trace``, so a
    handler's own spans join the request's trace whichever header its tracer reads (as API
    Gateway replaces ``X-Amzn-Trace-Id`` with its own segment's); a caller's ``tracestate``
    is left as it came."""
    added = _trace_pairs(trace)
    headers = dict(context.headers)
    _replace_trace_headers(headers, added)
    raw = context.raw_headers
    if raw:
        raw = (*[pair for pair in raw if pair[0] not in _TRACE_HEADERS], *added)
    return context._replace(headers=headers, raw_headers=raw)


def _trace_pairs(trace: TraceContext) -> tuple[tuple[str, str], tuple[str, str]]:
    traceparent, amzn_trace_id = trace.header_values()
    return ("traceparent", traceparent), ("x-amzn-trace-id", amzn_trace_id)


def _replace_trace_headers(headers: dict[str, Any], added: Iterable[tuple[str, Any]]) -> None:
    for name in _TRACE_HEADERS:  # replaced, and after the others, as in raw headers
        headers.pop(name, None)
    headers.update(added)


def _put_trace_headers(event: dict[str, Any], trace: TraceContext) -> None:
    """An event's headers as ``with_trace_headers`` makes a request's: v1's ``headers`` and
    ``multiValueHeaders``, v2's ``headers`` (copied: v2 may share the request's own dict).
    One frame, no helper: it runs on every traced route request."""
    traceparent, amzn_trace_id = trace.header_values()
    headers = event.get("headers") or {}
    if "traceparent" in headers or "x-amzn-trace-id" in headers:  # a caller's: replaced
        headers = {name: value for name, value in headers.items() if name not in _TRACE_HEADERS}
    else:
        headers = headers.copy()
    headers["traceparent"] = traceparent
    headers["x-amzn-trace-id"] = amzn_trace_id
    event["headers"] = headers
    multi = event.get("multiValueHeaders")
    if multi is not None:
        _replace_trace_headers(
            multi, (("traceparent", [traceparent]), ("x-amzn-trace-id", [amzn_trace_id]))
        )


def _is_binary_content_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in BINARY_CONTENT_TYPES or media_type.split("/", 1)[0] in _BINARY_MAIN_TYPES


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """``(body, isBase64Encoded)`` as API Gateway passes a request body to Lambda.

    UTF-8 text goes as a string; bytes that are not UTF-8, or that carry a binary content type,
    go base64. An empty body is ``None``.
    """
    if not body:
        return None, False
    if not _is_binary_content_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _split_host(host: str) -> tuple[str, str]:
    """``(domainName, domainPrefix)`` from a Host header: the port dropped, the first label."""
    if host.startswith("["):  # IPv6 literal: "[::1]:8080"
        name = host.split("]", 1)[0] + "]"
        return name, name
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name, name.split(".", 1)[0]


class EventBuilder:
    """Builds API Gateway proxy events (v1 and v2) for Lambda-style handlers.

    Args:
        api_id: ``requestContext.apiId``.
        stage: ``requestContext.stage``. With any stage but ``$default`` AWS puts
            ``/{stage}`` in front of the request path in ``requestContext.path`` (v1) and in
            ``rawPath`` / ``requestContext.http.path`` (v2); so does this builder.
        account_id: ``requestContext.accountId``.
    """

    def __init__(
        self,
        *,
        api_id: str = "lockgate",
        stage: str = "$default",
        account_id: str = "000000000000",
    ) -> None:
        self.api_id = api_id
        self.stage = stage
        self.account_id = account_id
        self._stage_prefix = "" if stage == "$default" else f"/{stage}"
        self._resource_ids: dict[str, str] = {}
        self._time_cache: tuple[int, str] = (-1, "")
        self._domains: dict[str, tuple[str, str]] = {}

    def build(
        self,
        context: InputContext,
        match: RouteMatch,
        identity: RouteIdentity | None = None,
        *,
        trace: TraceContext | None = None,
    ) -> bytes:
        """The JSON event for ``match.route.payload_format``, compact and UTF-8 encoded;
        ``identity`` is what the route's authorizer and API key established; ``trace``, if
        any, is in its headers as ``with_trace_headers`` puts it (set in the event, not in a
        copy of the request: the cheaper way on a traced request's path)."""
        if match.route.payload_format == "1.0":
            event = self.build_v1(context, match, identity)
        else:
            event = self.build_v2(context, match, identity)
        if trace is not None:
            _put_trace_headers(event, trace)
        return orjson.dumps(event)

    def build_v1(
        self, context: InputContext, match: RouteMatch, identity: RouteIdentity | None = None
    ) -> dict[str, Any]:
        """The REST API (payload format 1.0) proxy event as a dict."""
        route = match.route
        received_at = context.received_at or time.time()
        headers, multi_headers = _v1_headers(context)
        query, multi_query = _v1_query(context)
        body, is_base64 = encode_body(context.body, context.headers.get("content-type"))
        domain_name, domain_prefix = _split_host(context.headers.get("host") or "localhost")
        request_context: dict[str, Any] = {
            "resourceId": self._resource_id(route),
            "resourcePath": route.path,
            "httpMethod": context.method,
            "requestId": context.request_id,
            "extendedRequestId": context.request_id,
            "accountId": self.account_id,
            "apiId": self.api_id,
            "stage": self.stage,
            "path": self._stage_prefix + context.path,
            "protocol": context.protocol,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "requestTime": self._request_time(received_at),
            "requestTimeEpoch": int(received_at * 1000),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": context.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": context.headers.get("user-agent"),
                "user": None,
                "apiKey": None,
                "apiKeyId": None,
                "clientCert": None,
            },
        }
        if context.user_id is not None:
            request_context["authorizer"] = {
                "principalId": context.user_id,
                "claims": {"sub": context.user_id},
            }
        if identity is not None:
            add_identity_v1(request_context, identity)
        return {
            "resource": route.path,
            "path": context.path,
            "httpMethod": context.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": dict(match.path_parameters) if match.path_parameters else None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": body,
            "isBase64Encoded": is_base64,
        }

    def build_v2(  # noqa: PLR0912 (the hot path: one flat function, no helper calls)
        self, context: InputContext, match: RouteMatch, identity: RouteIdentity | None = None
    ) -> dict[str, Any]:
        """The HTTP API (payload format 2.0) event as a dict."""
        route = match.route
        received_at = context.received_at or time.time()
        source_headers = context.headers
        # HTTP API moves the Cookie header into ``cookies`` and leaves it out of ``headers``.
        cookies: list[str] = []
        if "cookie" not in source_headers and type(source_headers) is dict:
            headers = source_headers  # the common case: nothing to move, no copy needed
        else:
            if context.raw_headers:
                for name, value in context.raw_headers:
                    if name == "cookie":
                        cookies.extend(_split_cookies(value))
            elif "cookie" in source_headers:
                cookies.extend(_split_cookies(source_headers["cookie"]))
            headers = {name: value for name, value in source_headers.items() if name != "cookie"}

        path = self._stage_prefix + context.path
        raw_query = context.raw_query_string
        if not raw_query and context.query_params:
            raw_query = urlencode(dict(context.query_params))
        route_key = route.route_key
        domain_name, domain_prefix = self._domain(source_headers.get("host") or "localhost")
        request_context: dict[str, Any] = {
            "accountId": self.account_id,
            "apiId": self.api_id,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "requestId": context.request_id,
            "routeKey": route_key,
            "stage": self.stage,
            "time": self._request_time(received_at),
            "timeEpoch": int(received_at * 1000),
            "http": {
                "method": context.method,
                "path": path,
                "protocol": context.protocol,
                "sourceIp": context.source_ip,
                "userAgent": source_headers.get("user-agent", ""),
            },
        }
        if context.user_id is not None:
            request_context["authorizer"] = {"jwt": {"claims": {"sub": context.user_id}}}
        if identity is not None:
            add_identity_v2(request_context, identity)

        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": raw_query,
        }
        # Optional v2 fields are left out, not set to null, when there is nothing to send.
        if cookies:
            event["cookies"] = cookies
        event["headers"] = headers
        if context.query_params:
            event["queryStringParameters"] = dict(context.query_params)
        params = match.path_parameters
        if params:
            event["pathParameters"] = params if type(params) is dict else dict(params)
        event["requestContext"] = request_context
        body, is_base64 = encode_body(context.body, source_headers.get("content-type"))
        if body is not None:
            event["body"] = body
        event["isBase64Encoded"] = is_base64
        return event

    def _domain(self, host: str) -> tuple[str, str]:
        # Most requests name one of a few hosts: split each once (bounded, so a client
        # sending random Host headers cannot grow it without end).
        domain = self._domains.get(host)
        if domain is None:
            if len(self._domains) >= 256:
                self._domains.clear()
            domain = self._domains[host] = _split_host(host)
        return domain

    def _request_time(self, epoch_seconds: float) -> str:
        # Requests arrive many per second; format each second once.
        second = int(epoch_seconds)
        cached_second, text = self._time_cache
        if cached_second != second:
            text = format_request_time(second)
            self._time_cache = (second, text)
        return text

    def _resource_id(self, route: Route) -> str:
        # AWS gives each resource (path) a short stable id; derive one from the path.
        resource_id = self._resource_ids.get(route.path)
        if resource_id is None:
            digest = hashlib.blake2s(route.path.encode("utf-8"), digest_size=3)
            resource_id = digest.hexdigest()
            self._resource_ids[route.path] = resource_id
        return resource_id


def _v1_headers(context: InputContext) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``headers`` (the last value of each name, as AWS does) and ``multiValueHeaders``."""
    if not context.raw_headers:
        return dict(context.headers), {k: [v] for k, v in context.headers.items()}
    return _last_and_all(context.raw_headers)


def _v1_query(
    context: InputContext,
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """``queryStringParameters`` (last value wins) and its multi-value form; None when empty."""
    if not context.raw_query_string:
        if not context.query_params:
            return None, None
        return dict(context.query_params), {k: [v] for k, v in context.query_params.items()}
    query, multi = _last_and_all(parse_qsl(context.raw_query_string, keep_blank_values=True))
    if not query:  # "?" or "?&" alone
        return None, None
    return query, multi


def _last_and_all(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each name's last value, and all its values in order (API Gateway v1's two forms)."""
    last: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for name, value in pairs:
        last[name] = value
        values = every.get(name)
        if values is None:
            every[name] = [value]
        else:
            values.append(value)
    return last, every


def _split_cookies(header: str) -> list[str]:
    # "a=1; b=2" -> ["a=1", "b=2"]; tolerate a missing space after ';'.
    return [part for part in (piece.strip() for piece in header.split(";")) if part]
