"""``http_client`` config and credential checks: each bad value names its key and echoes no
credential; a good config is accepted; credentials are bound to ``base_url``'s origin. No I/O."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.http.client import ResourceHttpClient
from lockgate.gateways.resources.http.resolver import HttpxHttpClientResolver

resolver = HttpxHttpClientResolver()


def test_type_name() -> None:
    assert HttpxHttpClientResolver.type_name == "http_client"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"base_url": "https://api.example.com", "timeout": 30, "headers": {"User-Agent": "K/1"}},
        {
            "headers": {
                "Accept": "application/json",
                "Keep-Alive": "timeout=5",
                "X-Request-Id": "r1",
                "X-Tenant": "t1",
            }
        },
        {
            "base_url": "http://127.0.0.1:8080/v1",
            "timeout": 2.5,
            "connect_timeout": 1,
            "connection_limit": 100,
            "connection_limit_per_host": 30,
            "keepalive_timeout": 0,
            "max_keepalive_connections": 0,
            "follow_redirects": True,
            "verify": False,
            "proxy": "http://proxy.internal:3128",
            "api_key_header": "X-API-Key",
            "health_url": "/health",
        },
        {"health_url": "https://status.example.com/ping"},
        {"base_url": None, "timeout": None},  # null is the default
    ],
)
def test_good_configs_are_accepted(config: dict[str, Any]) -> None:
    resolver.validate(config)


@pytest.mark.parametrize(
    ("config", "key", "message"),
    [
        ({"base_url": 5}, "base_url", "non-empty string"),
        ({"base_url": ""}, "base_url", "non-empty string"),
        ({"base_url": "ftp://files.example.com"}, "base_url", "http:// or https://"),
        ({"base_url": "api.example.com/v1"}, "base_url", "http:// or https://"),
        ({"base_url": "http://[::1"}, "base_url", "not a valid URL"),
        ({"base_url": "https://user:hunter2@api.example.com"}, "base_url", "user name"),
        ({"base_url": "https://token-hunter2@api.example.com"}, "base_url", "user name"),
        ({"timeout": -1}, "timeout", "at least"),
        ({"timeout": 0}, "timeout", "greater than 0"),
        ({"timeout": "30"}, "timeout", "a number"),
        ({"timeout": float("inf")}, "timeout", "finite"),
        ({"connect_timeout": -0.5}, "connect_timeout", "at least"),
        ({"connect_timeout": 0}, "connect_timeout", "greater than 0"),
        ({"headers": ["User-Agent"]}, "headers", "object of strings"),
        ({"headers": {"X-Count": 1}}, "headers", "object of strings"),
        ({"headers": {"Bad Name": "v"}}, "headers", "invalid header name"),
        ({"headers": {"X-Split": "a\r\nInjected: yes"}}, "headers", "printable ASCII"),
        ({"headers": {"Authorization": "Bearer hunter2"}}, "headers", "credentials_ref"),
        (
            {"api_key_header": "X-API-Key", "headers": {"x-api-key": "hunter2"}},
            "headers",
            "credentials_ref",
        ),
        ({"connection_limit": 0}, "connection_limit", "integer from 1"),
        ({"connection_limit": 1.5}, "connection_limit", "an integer"),
        ({"connection_limit_per_host": 0}, "connection_limit_per_host", "integer from 1"),
        ({"connection_limit_per_host": True}, "connection_limit_per_host", "an integer"),
        ({"keepalive_timeout": -1}, "keepalive_timeout", "at least"),
        ({"max_keepalive_connections": -1}, "max_keepalive_connections", "integer from 0"),
        ({"follow_redirects": "yes"}, "follow_redirects", "true or false"),
        ({"verify": "/etc/ssl/ca.pem"}, "verify", "true or false"),
        ({"proxy": "socks5://proxy:1080"}, "proxy", "http:// or https://"),
        ({"proxy": "http://me:hunter2@proxy:3128"}, "proxy", "user name"),
        ({"api_key_header": "X API Key"}, "api_key_header", "header name"),
        ({"health_url": "/health"}, "health_url", "needs 'base_url'"),
        ({"health_url": "ftp://example.com/health"}, "health_url", "http:// or https://"),
        ({"health_url": "http://u:hunter2@example.com/h"}, "health_url", "user name"),
        ({"base_url": "http://x", "timout": 3}, "timout", "unknown http_client config"),
        ({"url": "https://api.example.com"}, "url", "credentials_ref"),
        ({"api_key": "hunter2"}, "api_key", "credentials_ref"),
        ({"token": "hunter2"}, "token", "credentials_ref"),
    ],
)
def test_bad_configs_name_their_key(config: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ResourceConfigError, match=message) as caught:
        resolver.validate(config)
    assert caught.value.fields["key"] == key
    assert repr(key) in str(caught.value)
    assert "hunter2" not in str(caught.value)


async def test_create_checks_config_too() -> None:
    with pytest.raises(ResourceConfigError) as caught:
        await resolver.create({"timeout": -1}, None)
    assert caught.value.fields["key"] == "timeout"


@pytest.mark.parametrize(
    ("config", "credentials", "key", "message"),
    [
        ({}, {"api_key": "hunter2", "token": "hunter2"}, "credentials_ref", "got keys"),
        ({}, {"username": "svc"}, "credentials_ref", "got keys"),
        ({}, {"password": "hunter2"}, "credentials_ref", "got keys"),
        ({}, {"api_key": "hunter2", "username": "svc"}, "credentials_ref", "got keys"),
        ({}, {"user": "svc", "password": "hunter2"}, "credentials_ref", "unknown"),
        ({}, {"api_key": 12345}, "credentials_ref", "object of strings"),
        ({}, "hunter2", "credentials_ref", "object of strings"),
        ({}, {"api_key": ""}, "credentials_ref", "non-empty"),
        ({}, {"token": "hunter2\n"}, "credentials_ref", "printable ASCII"),
        ({}, {"username": "a:b", "password": "hunter2"}, "credentials_ref", "':'"),
        ({"api_key_header": "X-API-Key"}, None, "api_key_header", "no api_key"),
        (
            {"api_key_header": "X-API-Key"},
            {"username": "svc", "password": "hunter2"},
            "api_key_header",
            "no api_key",
        ),
    ],
)
async def test_bad_credentials_are_refused_without_their_values(
    config: dict[str, Any], credentials: Any, key: str, message: str
) -> None:
    with pytest.raises(ResourceConfigError, match=message) as caught:
        await resolver.create(config, credentials)
    assert caught.value.fields["key"] == key
    assert "hunter2" not in str(caught.value)


CREDENTIAL_HEADERS = [
    "Authorization",
    "authorization",
    "Proxy-Authorization",
    "X-API-Key",
    "x-auth-token",
    "X-Session-Token",
    "X-Client-Secret",
    "X-Password",
    "Cookie",
    "Api-Key",
    "X-Authentication",
]


@pytest.mark.parametrize("name", CREDENTIAL_HEADERS)
def test_credential_looking_headers_are_refused_by_name_only(name: str) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        resolver.validate({"headers": {"User-Agent": "K/1", name: "hunter2"}})
    message = str(caught.value)
    assert caught.value.fields["key"] == "headers"
    assert repr(name) in message
    assert "'headers'" in message
    assert "api_key_header" in message
    assert "credentials_ref" in message
    assert "hunter2" not in message


async def test_credentials_need_a_base_url_to_be_bound_to() -> None:
    for config, credentials in (
        ({}, {"api_key": "hunter2"}),
        ({}, {"token": "hunter2"}),
        ({"api_key_header": "X-API-Key"}, {"api_key": "hunter2"}),
        (
            {"health_url": "https://status.example.com/ping"},
            {"username": "u", "password": "hunter2"},
        ),
    ):
        resolver.validate(config)  # validate cannot know; create refuses
        with pytest.raises(ResourceConfigError, match="base_url") as caught:
            await resolver.create(config, credentials)
        assert caught.value.fields["key"] == "base_url"
        assert "hunter2" not in str(caught.value)
    no_credentials: tuple[Any, ...] = (None, {})
    for nothing in no_credentials:  # no credentials, no origin needed
        client = await resolver.create({}, nothing)
        await resolver.close(client)


def _signed(client: ResourceHttpClient, url: str) -> httpx.Request:
    """The request for ``url`` as the client's auth flow hands it to the transport."""
    assert client.auth is not None
    return next(client.auth.auth_flow(client.build_request("GET", url)))


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("/orders", True),
        ("orders?limit=1", True),
        ("//evil.example.com/x", True),  # a path under base_url, on its host
        ("http://api.example.com:8080/elsewhere", True),  # same origin, other path
        ("HTTP://API.Example.COM:8080/x", True),  # scheme and host are case-insensitive
        ("https://api.example.com:8080/x", False),  # another scheme
        ("http://api.example.com/x", False),  # another port (80)
        ("http://api.example.com:8081/x", False),
        ("http://evil.example.com:8080/x", False),  # another host
        ("http://api.example.com.evil.example/x", False),
        ("http://api.example.com:8080@evil.example.com/x", False),  # user info, not host
    ],
)
@pytest.mark.parametrize(
    ("credentials", "config", "header"),
    [
        ({"api_key": "hunter2"}, {}, "Authorization"),
        ({"api_key": "hunter2"}, {"api_key_header": "X-API-Key"}, "X-API-Key"),
        ({"username": "svc", "password": "hunter2"}, {}, "Authorization"),
    ],
    ids=["bearer", "api_key_header", "basic"],
)
async def test_credentials_are_bound_to_the_base_url_origin(
    url: str, sent: bool, credentials: dict[str, str], config: dict[str, str], header: str
) -> None:
    client = await resolver.create(
        {"base_url": "http://api.example.com:8080/v1", **config}, credentials
    )
    try:
        assert (header in _signed(client, url).headers) is sent
        assert "hunter2" not in repr(client.auth)
    finally:
        await resolver.close(client)


async def test_a_default_port_is_the_same_origin() -> None:
    client = await resolver.create({"base_url": "https://api.example.com"}, {"token": "hunter2"})
    try:
        assert "Authorization" in _signed(client, "https://api.example.com:443/x").headers
        assert "Authorization" not in _signed(client, "http://api.example.com:443/x").headers
    finally:
        await resolver.close(client)


@pytest.mark.parametrize(
    ("credentials", "config", "header"),
    [
        ({"token": "hunter2"}, {}, "Authorization"),
        ({"api_key": "hunter2"}, {"api_key_header": "X-API-Key"}, "X-API-Key"),
        ({"username": "svc", "password": "hunter2"}, {}, "Authorization"),
    ],
    ids=["bearer", "api_key_header", "basic"],
)
async def test_a_redirect_away_from_the_origin_drops_the_credential(
    credentials: dict[str, str], config: dict[str, str], header: str
) -> None:
    # httpx keeps Authorization on an http -> https upgrade of the same host; that is
    # another origin than base_url's, so the credential goes no further. (Redirects are
    # checked against real servers in the contract tests; a server on port 80 cannot be run
    # here, so this calls the client's redirect hook directly.)
    client = await resolver.create({"base_url": "http://api.example.com", **config}, credentials)
    try:
        signed = _signed(client, "/start")
        assert header in signed.headers
        for target, kept in (
            ("http://api.example.com/next", True),
            ("https://api.example.com/next", False),
            ("http://other.example.com/next", False),
        ):
            headers = client._redirect_headers(signed, httpx.URL(target), "GET")
            assert (header in headers) is kept, target
    finally:
        await resolver.close(client)
