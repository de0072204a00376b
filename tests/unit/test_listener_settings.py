"""The listener's settings: defaults, the file's [gateway] table, LOCKGATE_* and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.config.settings import Settings, load_settings
from lockgate.errors import ConfigError


def test_every_limit_has_a_default() -> None:
    settings = Settings()
    assert (settings.header_timeout, settings.body_timeout) == (10.0, 30.0)
    assert (settings.max_header_bytes, settings.max_headers) == (16 * 1024, 100)
    assert (settings.max_connections, settings.max_connections_per_client) == (4096, 256)


def test_the_limits_come_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lockgate.toml"
    path.write_text(
        "[gateway]\nheader_timeout = 2.5\nbody_timeout = 5\nmax_header_bytes = 8192\n"
        "max_headers = 50\nmax_connections = 1000\nmax_connections_per_client = 10\n"
    )
    monkeypatch.setenv("LOCKGATE_MAX_HEADERS", "60")
    settings, _ = load_settings(path)
    assert (settings.header_timeout, settings.body_timeout) == (2.5, 5.0)
    assert (settings.max_header_bytes, settings.max_headers) == (8192, 60)
    assert (settings.max_connections, settings.max_connections_per_client) == (1000, 10)


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("header_timeout = 0", "gateway.header_timeout", "expected a number > 0 and ≤ 3600, got 0"),
        ("body_timeout = -1", "gateway.body_timeout", "expected a number > 0 and ≤ 3600, got -1"),
        (
            "max_header_bytes = 100",
            "gateway.max_header_bytes",
            "expected an integer ≥ 1024 and ≤ 1048576, got 100",
        ),
        ("max_headers = 2", "gateway.max_headers", "expected an integer ≥ 8 and ≤ 10000, got 2"),
        ("max_connections = 0", "gateway.max_connections", "≥ 1, got 0"),
        ('max_connections_per_client = "a"', "gateway.max_connections_per_client", "'a'"),
    ],
)
def test_a_bad_limit_names_its_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = tmp_path / "lockgate.toml"
    path.write_text(f"[gateway]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert f"{key}: " in caught.value.message
    assert fragment in caught.value.message
