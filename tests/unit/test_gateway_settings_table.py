"""Every setting is one table: each can be set in ``[gateway]`` and by ``LOCKGATE_<NAME>``
alike, and both give the same value (but ``config``, which says where the file is)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from lockgate.config.gateway_settings import GATEWAY_TABLE, NOT_IN_FILE, Settings
from lockgate.config.settings import load_settings

_TOKEN = "a-token-of-32-characters-or-so.."
# Each setting: its TOML value, the same as an environment variable, and the value both give.
# A new setting fails test_every_setting_is_listed until it is added here.
SAMPLES: dict[str, tuple[str, str, Any]] = {
    "host": ('"0.0.0.0"', "0.0.0.0", "0.0.0.0"),
    "port": ("9001", "9001", 9001),
    "max_body_bytes": ("1024", "1024", 1024),
    "start_budget": ("2", "2", 2),
    "log_format": ('"json"', "json", "json"),
    "log_level": ('"debug"', "debug", "DEBUG"),
    "janitor_interval": ("0.5", "0.5", 0.5),
    "log_capture_bytes": ("8192", "8192", 8192),
    "shutdown_grace": ("3.0", "3", 3.0),
    "run_store": ('"memory://"', "memory://", "memory://"),
    "sqlite_synchronous": ('"NORMAL"', "NORMAL", "NORMAL"),
    "node_id": ('"node-7"', "node-7", "node-7"),
    "run_lease": ("12.0", "12", 12.0),
    "run_retention": ("60.0", "60", 60.0),
    "max_step_output_bytes": ("2048", "2048", 2048),
    "secrets": ('"env"', "env", "env"),
    "master_key_file": ('"keys/master.key"', "{tmp}/keys/master.key", "{tmp}/keys/master.key"),
    "secret_cache_ttl": ("0.0", "0", 0.0),
    "secrets_http_read": ("true", "true", True),
    "admin_token": (f'"{_TOKEN}"', _TOKEN, _TOKEN),
    "admin_token_file": (
        '"state/admin.token"',
        "{tmp}/state/admin.token",
        "{tmp}/state/admin.token",
    ),
    "resource_idle_ttl": ("9.0", "9", 9.0),
    "resource_health_timeout": ("2.0", "2", 2.0),
    "max_inline_resources": ("7", "7", 7),
    "allow_inline_resources": ("true", "true", True),
    "inline_allowed_hosts": ('["10.0.0.0/8"]', '["10.0.0.0/8"]', ["10.0.0.0/8"]),
    "inline_credentials": ('["db"]', '["db"]', ["db"]),
    "durable_events": ("false", "false", False),
    "event_delivery_timeout": ("4.0", "4", 4.0),
    "event_max_attempts": ("9", "9", 9),
    "event_retention": ("100.0", "100", 100.0),
    "async_max_retries": ("1", "1", 1),
    "async_retry_delay": ("0.25", "0.25", 0.25),
    "async_max_event_age": ("600.0", "600", 600.0),
    "async_concurrency": ("3", "3", 3),
    "async_retention": ("50.0", "50", 50.0),
    "async_max_queued": ("10", "10", 10),
    "admin_listen": ('"127.0.0.1:9901"', "127.0.0.1:9901", "127.0.0.1:9901"),
    "allowed_hosts": ('["api.example.com"]', '["api.example.com"]', ["api.example.com"]),
    "aws_region": ('"eu-west-1"', "eu-west-1", "eu-west-1"),
    "aws_endpoint_url": (
        '"http://127.0.0.1:5000"',
        "http://127.0.0.1:5000",
        "http://127.0.0.1:5000",
    ),
    "header_timeout": ("5.0", "5", 5.0),
    "body_timeout": ("6.0", "6", 6.0),
    "max_header_bytes": ("4096", "4096", 4096),
    "max_headers": ("50", "50", 50),
    "max_connections": ("100", "100", 100),
    "max_connections_per_client": ("10", "10", 10),
    "drain_seconds": ("5", "5", 5.0),
    "access_log": ("false", "false", False),
    "function_logs": ("false", "false", False),
    "function_log_rate": ("20", "20", 20),
    "function_log_lines": ("500", "500", 500),
    "reload": ("true", "true", True),
    "check_handlers": ("false", "false", False),
}


@pytest.fixture(autouse=True)
def _no_lockgate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in os.environ:
        if name.upper().startswith("LOCKGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _expected(value: Any, tmp_path: Path) -> Any:
    return (
        Path(value.format(tmp=tmp_path)) if isinstance(value, str) and "{tmp}" in value else value
    )


def test_every_setting_is_listed() -> None:
    assert set(SAMPLES) == set(Settings.model_fields) - NOT_IN_FILE
    assert set(GATEWAY_TABLE.model_fields) == set(Settings.model_fields) - NOT_IN_FILE


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_setting_is_the_same_from_the_file_and_from_the_environment(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_file, in_env, value = SAMPLES[name]
    expected = _expected(value, tmp_path)
    assert getattr(Settings.model_construct(), name) != expected  # the sample is not a default
    path = tmp_path / "lockgate.toml"
    path.write_text(f"[gateway]\n{name} = {in_file}\n", encoding="utf-8")
    path.chmod(0o600)  # the admin token is only read from a private file
    from_file, _ = load_settings(path)
    assert getattr(from_file, name) == expected
    path.write_text("", encoding="utf-8")
    monkeypatch.setenv(f"LOCKGATE_{name.upper()}", in_env.format(tmp=tmp_path))
    from_env, _ = load_settings(path)
    assert getattr(from_env, name) == expected


def test_the_file_cannot_name_another_config(tmp_path: Path) -> None:
    assert "config" not in GATEWAY_TABLE.model_fields
