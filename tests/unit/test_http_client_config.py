"""``http_client`` config and credential checks: each bad value names its key and echoes no
credential; a good config is accepted. No I/O."""

from __future__ import annotations

from typing import Any

import pytest

from lockgate.errors import ResourceConfigError
from lockgate.gateways.httpx_http_client_resolver import HttpxHttpClientResolver

resolver = HttpxHttpClientResolver()


def test_type_name() -> None:
    assert HttpxHttpClientResolver.type_name == "http_client"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"base_url": "https://api.example.com", "timeout": 30, "headers": {"User-Agent": "K/1"}},
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
