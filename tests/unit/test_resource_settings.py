"""The settings issue 4 adds: ``[resources.NAME]`` tables (shared resources) and the secrets
and resource keys of ``[gateway]`` and the environment; errors name the key and never show
a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgate.config.settings import Settings, load_config, load_settings
from lockgate.errors import ConfigError
from lockgate.models.resource import ResourceReference
from tests.unit.config_files import config_error, write

TOKEN = "admin-token-5f0c2e9a7b"

RESOURCES = """
[resources.main_db]
type = "database"
config = { host = "127.0.0.1", port = 5432, database = "test", max_size = 5 }
credentials_ref = "db_creds"

[resources.redis_cache]
type = "cache"

[resources.redis_cache.config]
backend = "redis"
host = "127.0.0.1"
"""


pytestmark = pytest.mark.usefixtures("no_lockgate_env")


# --- [resources.NAME] ---------------------------------------------------------------------------


def test_resource_tables_become_shared_references(tmp_path: Path) -> None:
    config, gateway = load_config(write(tmp_path, RESOURCES))
    assert dict(config.resources) == {
        "main_db": ResourceReference(
            "database",
            {"host": "127.0.0.1", "port": 5432, "database": "test", "max_size": 5},
            "db_creds",
        ),
        "redis_cache": ResourceReference("cache", {"backend": "redis", "host": "127.0.0.1"}),
    }
    assert gateway == {}


def test_a_file_without_resources_declares_none(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, ""))
    assert dict(config.resources) == {}


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("[resources.main_db]\nconfig = {}\n", "resources.main_db.type", "missing"),
        ('[resources.main_db]\ntype = ""\n', "resources.main_db.type", "expected a string"),
        ("[resources.main_db]\ntype = 3\n", "resources.main_db.type", "got 3"),
        (
            '[resources.main_db]\ntype = "database"\nconfig = "host=a"\n',
            "resources.main_db.config",
            "expected a table, got 'host=a'",
        ),
        (
            '[resources.main_db]\ntype = "database"\nconfig = [1]\n',
            "resources.main_db.config",
            "expected a table",
        ),
        (
            '[resources.main_db]\ntype = "database"\ncredentials_ref = 3\n',
            "resources.main_db.credentials_ref",
            "expected a string, got 3",
        ),
        (
            '[resources.main_db]\ntype = "database"\nconifg = {}\n',
            "resources.main_db.conifg",
            "unknown key; did you mean 'config'?",
        ),
        (
            '[resources."bad name"]\ntype = "database"\n',
            'resources."bad name"',
            "got 'bad name'",
        ),
        ('resources = { main_db = "@x" }\n', "resources.main_db", "expected a table"),
        ("resources = 3\n", "resources", "expected a table"),
    ],
)
def test_a_bad_resource_table_names_its_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, text)
    assert f"{key}: " in error.message
    assert fragment in error.message
    assert error.fields["key"] == key


def test_every_bad_resource_is_listed(tmp_path: Path) -> None:
    error = config_error(
        tmp_path,
        '[resources.a]\nconfig = {}\n[resources.b]\ntype = "cache"\nconfig = 1\n',
    )
    assert error.fields["keys"] == ("resources.a.type", "resources.b.config")


# --- [gateway] and the environment ----------------------------------------------------------

GATEWAY = """
[gateway]
secrets = "database"
secret_cache_ttl = 10
secrets_http_read = true
resource_idle_ttl = 30
resource_health_timeout = 2.5
"""


def test_the_new_gateway_keys_parse(tmp_path: Path) -> None:
    _, gateway = load_config(write(tmp_path, GATEWAY))
    assert gateway == {
        "secrets": "database",
        "secret_cache_ttl": 10.0,
        "secrets_http_read": True,
        "resource_idle_ttl": 30.0,
        "resource_health_timeout": 2.5,
    }
    settings, _ = load_settings(write(tmp_path, GATEWAY))
    assert settings.secrets == "database"
    assert settings.secret_cache_ttl == 10.0
    assert settings.secrets_http_read is True
    assert settings.resource_idle_ttl == 30.0
    assert settings.resource_health_timeout == 2.5


def test_the_defaults() -> None:
    settings = Settings()
    assert settings.secrets == "auto"
    assert settings.master_key_file is None
    assert settings.secret_cache_ttl == 300.0
    assert settings.secrets_http_read is False
    assert settings.admin_token is None
    assert settings.resource_idle_ttl == 300.0
    assert settings.resource_health_timeout == 5.0


def test_master_key_file_in_the_file_is_relative_to_its_folder(tmp_path: Path) -> None:
    _, gateway = load_config(write(tmp_path, '[gateway]\nmaster_key_file = "keys/master.key"\n'))
    assert gateway["master_key_file"] == tmp_path / "keys" / "master.key"


@pytest.mark.parametrize(
    ("line", "key", "fragment"),
    [
        ('secrets = "vault"', "gateway.secrets", "'auto', 'database', 'env', 'off', got 'vault'"),
        ("secret_cache_ttl = -1", "gateway.secret_cache_ttl", "got -1"),
        ('secrets_http_read = "yes"', "gateway.secrets_http_read", "got 'yes'"),
        ("resource_idle_ttl = 0", "gateway.resource_idle_ttl", "got 0"),
        ("resource_health_timeout = 0", "gateway.resource_health_timeout", "got 0"),
    ],
)
def test_a_bad_gateway_value_names_its_key(
    tmp_path: Path, line: str, key: str, fragment: str
) -> None:
    error = config_error(tmp_path, f"[gateway]\n{line}\n")
    assert f"{key}: " in error.message
    assert fragment in error.message


def test_the_admin_token_is_read_from_a_private_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'[gateway]\nadmin_token = "{TOKEN}"\n')
    path.chmod(0o600)
    settings, _ = load_settings(path)
    assert settings.admin_token == TOKEN


def test_the_admin_token_is_refused_in_a_file_others_can_read(tmp_path: Path) -> None:
    path = write(tmp_path, f'[gateway]\nadmin_token = "{TOKEN}"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "gateway.admin_token: " in caught.value.message
    assert "chmod 600" in caught.value.message
    assert TOKEN not in caught.value.message
    assert TOKEN not in repr(caught.value.fields)


def test_a_short_admin_token_in_the_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[gateway]\nadmin_token = "short-secret"\n')
    path.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "gateway.admin_token: expected a string of at least 16 characters" in (
        caught.value.message
    )
    assert "short-secret" not in caught.value.message


def test_the_environment_sets_the_new_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "master.key"
    monkeypatch.setenv("LOCKGATE_SECRETS", "env")
    monkeypatch.setenv("LOCKGATE_MASTER_KEY_FILE", str(key_file))
    monkeypatch.setenv("LOCKGATE_SECRET_CACHE_TTL", "0")
    monkeypatch.setenv("LOCKGATE_SECRETS_HTTP_READ", "true")
    monkeypatch.setenv("LOCKGATE_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("LOCKGATE_RESOURCE_IDLE_TTL", "12.5")
    monkeypatch.setenv("LOCKGATE_RESOURCE_HEALTH_TIMEOUT", "1")
    settings, _ = load_settings()
    assert settings.secrets == "env"
    assert settings.master_key_file == key_file
    assert settings.secret_cache_ttl == 0.0
    assert settings.secrets_http_read is True
    assert settings.admin_token == TOKEN
    assert settings.resource_idle_ttl == 12.5
    assert settings.resource_health_timeout == 1.0


def test_the_environment_outranks_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGATE_SECRETS", "env")
    settings, _ = load_settings(write(tmp_path, GATEWAY))
    assert settings.secrets == "env"
    assert settings.secret_cache_ttl == 10.0  # the file's, not overridden


def test_a_bad_secrets_mode_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRETS", "vault")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "LOCKGATE_SECRETS" in caught.value.message
    assert caught.value.fields["env"] == "LOCKGATE_SECRETS"


def test_a_short_admin_token_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = "short-secret"
    monkeypatch.setenv("LOCKGATE_ADMIN_TOKEN", short)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.fields["env"] == "LOCKGATE_ADMIN_TOKEN"
    assert short not in caught.value.message
    assert short not in repr(caught.value.fields)


def test_the_admin_token_is_not_in_the_settings_repr() -> None:
    settings = Settings(admin_token=TOKEN)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
