"""The ``http_client`` resource type: a pooled ``httpx.AsyncClient`` shared by workflow steps.

Config is checked up front (every error names its key) because a typo in a reference should
fail the run that carries it, not the tenth request a step makes. Credentials come only from
the reference's secret (config, which run records keep in plaintext, refuses them, including
credential-looking headers) and are sent as an ``httpx.Auth`` bound to ``base_url``'s
origin, so they never sit in the config, the client's headers, its ``repr`` or a message,
and never go to a host a step or a caller picks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lockgate.errors import ResourceConfigError, ResourceTimeoutError, ResourceUnavailableError
from lockgate.gateways.resources.config import ConfigReader, credential_fields
from lockgate.gateways.resources.http.client import HeaderAuth, ResourceHttpClient, safe_url
from lockgate.gateways.resources.ports import IEgressGuard

__all__ = ["HttpxHttpClientResolver"]

_TYPE = "http_client"
_CREDENTIAL_KEYS = frozenset({"api_key", "token", "username", "password"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an HTTP header name (RFC 9110)
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e]")  # header values: printable ASCII and tabs
# Credentials in plain config are refused: they belong in the secret. A header is taken for
# a credential when its name (lower-cased) is one of these or contains one of those words.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
_CREDENTIAL_HEADER_WORDS = ("auth", "token", "key", "secret", "password", "cookie")


@dataclass(frozen=True, slots=True)
class _Settings:
    base_url: str
    headers: dict[str, str]
    timeout: float
    connect_timeout: float
    connection_limit: int
    connection_limit_per_host: int | None
    keepalive_timeout: float
    max_keepalive_connections: int | None
    follow_redirects: bool
    verify: bool
    proxy: str | None
    api_key_header: str | None
    health_url: str | None


class HttpxHttpClientResolver:
    """Creates ``ResourceHttpClient``s (``httpx.AsyncClient`` subclasses) for ``http_client``.

    Config keys:

    - ``base_url`` (string, optional; required with credentials):
      ``http(s)://host[:port][/path]`` that relative request URLs
      (``await api.get("/orders")``) are resolved against. Its origin (scheme, host, port)
      is the only one credentials are sent to. It must not carry a user name or password:
      those go in the credentials secret.
    - ``timeout`` (number > 0, default 30): deadline in seconds for a whole request (connect,
      redirects, body; for ``client.stream`` up to the headers), and for each read. A
      request's own ``timeout=`` replaces it.
    - ``connect_timeout`` (number > 0, default 5): seconds to open a connection.
    - ``headers`` (object of strings, default {}): sent with every request, to any host.
      Names that look like credentials are refused, as config is kept in plaintext in run
      records: ``Authorization``, ``Proxy-Authorization`` and any name containing ``auth``,
      ``token``, ``key``, ``secret``, ``password`` or ``cookie`` (case-insensitive). Put
      such a value in the secret as ``api_key`` and name the header in ``api_key_header``.
    - ``connection_limit`` (integer >= 1, default 100): connections open at once, all hosts.
    - ``connection_limit_per_host`` (integer >= 1, optional): requests in flight, hence
      connections, to one scheme/host/port; more wait up to ``timeout`` for a slot, then
      fail with ``httpx.PoolTimeout``. A streamed response holds its slot until closed.
    - ``keepalive_timeout`` (number >= 0, default 30): seconds an idle connection is kept.
    - ``max_keepalive_connections`` (integer >= 0, default ``connection_limit``): idle
      connections kept for reuse.
    - ``follow_redirects`` (boolean, default false): follow redirects by default.
    - ``verify`` (boolean, default true): verify TLS certificates.
    - ``proxy`` (string, optional): ``http(s)://`` URL of a proxy to go through, without
      user info. Proxy environment variables (``HTTP_PROXY``…) are not read. Refused in an
      inline reference: the proxy, not the egress policy, would choose the host.
    - ``api_key_header`` (string, optional): header the ``api_key``/``token`` credential is
      sent in, as it is (``X-API-Key``); without it, ``Authorization: Bearer <value>``.
    - ``health_url`` (string, optional): path (resolved against ``base_url``) or URL that
      ``health_check`` GETs; a status below 500 is healthy. Without it the check only
      makes sure the client is open. On another origin it is requested without credentials.

    Credentials secret (optional): ``{"api_key": ...}`` or ``{"token": ...}`` (a bearer
    token, or the ``api_key_header`` value), or ``{"username": ..., "password": ...}``
    (basic auth). They are sent only to ``base_url``'s origin (scheme, host and port; a
    default port counts as given): a request to an absolute URL elsewhere goes without
    them, and a redirect away from that origin drops them (an http -> https upgrade too).
    So credentials without ``base_url`` are refused by ``create``.

    Inline (``create_inline``): every connection, to ``base_url`` or any URL a step asks
    for, redirects included, goes to an address the egress guard allows, and any failure
    to connect is ``httpx.ConnectError`` with one text, after the connect timeout.

    Responses' ``json()`` may also be awaited (``await response.json()``, aiohttp style) when
    the body is an object or an array; see ``JsonObject``.
    """

    type_name: str = _TYPE

    def validate(self, config: Mapping[str, Any]) -> None:
        """Check ``config`` without I/O.

        Raises:
            ResourceConfigError: A key is unknown, mistyped or out of range; it is named.
        """
        _parse(config)

    async def create(self, config: Mapping[str, Any], credentials: Any) -> ResourceHttpClient:
        """A new client; it connects on its first request.

        Raises:
            ResourceConfigError: Bad config, credentials of the wrong shape (the message
                names keys, never values), or credentials without ``base_url``.
        """
        return _client(_parse(config), credentials, None)

    def validate_inline(self, config: Mapping[str, Any]) -> None:
        """``validate``, and no ``proxy``: a caller's proxy would choose where every
        request goes, past the egress policy.

        Raises:
            ResourceConfigError: As ``validate``, or ``proxy`` is set (``key="proxy"``).
        """
        if _parse(config).proxy is not None:
            raise ResourceConfigError(
                f"{_TYPE} config 'proxy' cannot be set in an inline reference: the proxy "
                "would choose the host each request reaches, past the egress policy. "
                "Register a shared resource with it",
                key="proxy",
            )

    async def create_inline(
        self, config: Mapping[str, Any], credentials: Any, egress: IEgressGuard
    ) -> ResourceHttpClient:
        """``create`` for a caller's reference: every connection goes through ``egress``.

        Raises:
            ResourceConfigError: As ``validate_inline`` and ``create``.
        """
        self.validate_inline(config)
        return _client(_parse(config), credentials, egress)

    async def health_check(self, resource: Any) -> None:
        """GET ``health_url`` (when configured) and expect a status below 500.

        Raises:
            ResourceTimeoutError: No answer within the client's timeouts.
            ResourceUnavailableError: The client is closed, the server cannot be reached,
                or it answered 500 or more. The message names the URL without a query.
        """
        if not isinstance(resource, ResourceHttpClient):
            raise ResourceUnavailableError(
                f"an http_client resource must be a ResourceHttpClient, "
                f"got {type(resource).__name__}"
            )
        if resource.is_closed:
            raise ResourceUnavailableError(f"{resource.target} is closed")
        if resource.health_url is None:
            return
        url = resource.build_request("GET", resource.health_url).url
        where = f"health check GET {safe_url(url)}"
        try:
            response = await resource.get(resource.health_url)
        except httpx.TimeoutException as exc:
            raise ResourceTimeoutError(f"{where} timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            # httpx's transport messages are OS errors ("connection refused"), no secrets.
            raise ResourceUnavailableError(
                f"{where} failed: {str(exc) or type(exc).__name__}"
            ) from exc
        if response.status_code >= 500:
            raise ResourceUnavailableError(f"{where} answered {response.status_code}")

    async def close(self, resource: Any) -> None:
        """Close the client and its connections. Idempotent."""
        if isinstance(resource, httpx.AsyncClient):
            await resource.aclose()


def _client(
    settings: _Settings, credentials: Any, egress: IEgressGuard | None
) -> ResourceHttpClient:
    """The client for checked ``settings``; through ``egress`` when given.

    Raises:
        ResourceConfigError: Credentials of the wrong shape, or without ``base_url``.
    """
    auth = _auth(credentials, settings.api_key_header)
    if auth is not None and not settings.base_url:
        raise ResourceConfigError(
            f"{_TYPE} credentials need 'base_url': they are sent only to its origin "
            "(scheme, host, port), and without it there is none to bind them to",
            key="base_url",
        )
    return ResourceHttpClient(
        base_url=settings.base_url,
        headers=settings.headers,
        timeout=settings.timeout,
        connect_timeout=settings.connect_timeout,
        connection_limit=settings.connection_limit,
        connection_limit_per_host=settings.connection_limit_per_host,
        keepalive_timeout=settings.keepalive_timeout,
        max_keepalive_connections=settings.max_keepalive_connections,
        follow_redirects=settings.follow_redirects,
        verify=settings.verify,
        proxy=settings.proxy,
        auth=auth,
        health_url=settings.health_url,
        egress=egress,
    )


def _parse(config: Mapping[str, Any]) -> _Settings:
    reader = ConfigReader(_TYPE, config)
    base_url = reader.text("base_url")
    if base_url is not None:
        _check_url("base_url", base_url)
    timeout = _positive(reader, "timeout", 30.0)
    connect_timeout = _positive(reader, "connect_timeout", 5.0)
    api_key_header = reader.text("api_key_header")
    if api_key_header is not None and not _TOKEN.fullmatch(api_key_header):
        raise ResourceConfigError(
            f"{_TYPE} config 'api_key_header' must be an HTTP header name", key="api_key_header"
        )
    headers = _headers(reader.strings("headers"), api_key_header)
    connection_limit = reader.integer("connection_limit", 100, minimum=1)
    assert connection_limit is not None  # it has a default
    keepalive_timeout = reader.number("keepalive_timeout", 30.0)
    assert keepalive_timeout is not None  # it has a default
    proxy = reader.text("proxy")
    if proxy is not None:
        _check_url("proxy", proxy)
    health_url = reader.text("health_url")
    if health_url is not None:
        _check_health_url(health_url, has_base_url=base_url is not None)
    settings = _Settings(
        base_url=base_url or "",
        headers=headers,
        timeout=timeout,
        connect_timeout=connect_timeout,
        connection_limit=connection_limit,
        connection_limit_per_host=reader.integer("connection_limit_per_host", minimum=1),
        keepalive_timeout=keepalive_timeout,
        max_keepalive_connections=reader.integer("max_keepalive_connections", minimum=0),
        follow_redirects=reader.boolean("follow_redirects", False),
        verify=reader.boolean("verify", True),
        proxy=proxy,
        api_key_header=api_key_header,
        health_url=health_url,
    )
    reader.done()
    return settings


def _positive(reader: ConfigReader, key: str, default: float) -> float:
    value = reader.number(key, default)
    if not value:  # None cannot happen (there is a default); 0 would time out at once
        raise ResourceConfigError(f"{_TYPE} config {key!r} must be greater than 0", key=key)
    return value


def _parse_url(key: str, value: str) -> httpx.URL:
    # Messages never echo the value: a URL may hold a password.
    try:
        return httpx.URL(value)
    except httpx.InvalidURL:
        raise ResourceConfigError(f"{_TYPE} config {key!r} is not a valid URL", key=key) from None


def _check_url(key: str, value: str) -> None:
    url = _parse_url(key, value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ResourceConfigError(
            f"{_TYPE} config {key!r} must be an http:// or https:// URL with a host", key=key
        )
    if url.userinfo:
        raise ResourceConfigError(
            f"{_TYPE} config {key!r} must not carry a user name or password: store them as "
            "a secret and name it in the reference's credentials_ref",
            key=key,
        )


def _check_health_url(value: str, *, has_base_url: bool) -> None:
    if not _parse_url("health_url", value).is_relative_url:
        _check_url("health_url", value)
    elif not has_base_url:
        raise ResourceConfigError(
            f"{_TYPE} config 'health_url' is a path, so it needs 'base_url'", key="health_url"
        )


def _headers(headers: dict[str, str], api_key_header: str | None) -> dict[str, str]:
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise ResourceConfigError(
                f"{_TYPE} config 'headers' has an invalid header name {name!r}", key="headers"
            )
        if _looks_like_credential(name) or (
            api_key_header is not None and name.lower() == api_key_header.lower()
        ):
            # Name the header, never its value.
            how = (
                "leave 'api_key_header' out to send it as 'Authorization: Bearer <api_key>'"
                if name.lower() == "authorization"
                else f"set 'api_key_header' to {name!r}"
            )
            raise ResourceConfigError(
                f"{_TYPE} config 'headers' must not set {name!r}, which looks like a "
                'credential: store the value as a secret ({"api_key": ...}), name it in the '
                f"reference's credentials_ref and {how}",
                key="headers",
            )
        if _BAD_VALUE.search(value):
            raise ResourceConfigError(
                f"{_TYPE} config 'headers' value of {name!r} must be printable ASCII",
                key="headers",
            )
    return headers


def _looks_like_credential(header: str) -> bool:
    name = header.lower()
    return name in _CREDENTIAL_HEADERS or any(word in name for word in _CREDENTIAL_HEADER_WORDS)


def _auth(credentials: Any, api_key_header: str | None) -> httpx.Auth | None:
    fields = credential_fields(_TYPE, credentials, _CREDENTIAL_KEYS)
    for key, value in fields.items():
        # A header value must be printable ASCII; basic auth encodes its parts as UTF-8.
        header_value = key in ("api_key", "token")
        if not value or (header_value and _BAD_VALUE.search(value)):
            expected = "a non-empty string" + (" of printable ASCII" if header_value else "")
            raise ResourceConfigError(
                f"{_TYPE} credential {key!r} must be {expected}", key="credentials_ref"
            )
    if ":" in fields.get("username", ""):
        raise ResourceConfigError(
            f"{_TYPE} credential 'username' must not contain ':'", key="credentials_ref"
        )
    keys = set(fields)
    if keys in ({"api_key"}, {"token"}):
        (value,) = fields.values()
        if api_key_header is None:
            return HeaderAuth("Authorization", f"Bearer {value}", kind="bearer")
        return HeaderAuth(api_key_header, value, kind=f"header {api_key_header}")
    if api_key_header is not None:
        raise ResourceConfigError(
            f"{_TYPE} config 'api_key_header' is set but the credentials hold no api_key or token",
            key="api_key_header",
        )
    if keys == {"username", "password"}:
        return httpx.BasicAuth(fields["username"], fields["password"])
    if not keys:
        return None
    raise ResourceConfigError(
        f"{_TYPE} credentials must be {{api_key}}, {{token}} or {{username, password}}, "
        f"got keys {', '.join(sorted(keys))}",
        key="credentials_ref",
    )
