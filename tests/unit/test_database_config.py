"""Malformed ``database`` configs and credentials: each error names the key, none shows a
secret, and all are raised before any I/O. Also the SQL rewriting SQLite relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lockgate.errors import ResourceConfigError
from lockgate.gateways.resources.database.postgres import parse_postgres_config
from lockgate.gateways.resources.database.resolver import DatabaseResolver
from lockgate.gateways.resources.database.sqlite import SQLiteDatabaseResolver, parse_sqlite_config
from lockgate.gateways.resources.database.sqlite_sql import split_statements, translate_placeholders

PG: dict[str, Any] = {"database": "app"}
LITE: dict[str, Any] = {"driver": "sqlite", "path": "app.db"}

BAD_CONFIGS = [
    ({"driver": "mysql", **PG}, "driver"),
    ({"driver": 1, **PG}, "driver"),
    ({"driver": ""}, "driver"),
    ({}, "database"),
    ({"database": 5}, "database"),
    ({**PG, "host": 5}, "host"),
    ({**PG, "host": ""}, "host"),
    ({**PG, "port": "5432"}, "port"),
    ({**PG, "port": 0}, "port"),
    ({**PG, "port": 70000}, "port"),
    ({**PG, "port": True}, "port"),
    ({**PG, "user": ["postgres"]}, "user"),
    ({**PG, "min_size": -1}, "min_size"),
    ({**PG, "min_size": 5, "max_size": 2}, "min_size"),
    ({**PG, "min_size": 11}, "min_size"),
    ({**PG, "max_size": 1.5}, "max_size"),
    ({**PG, "max_size": 0}, "max_size"),
    ({**PG, "max_size": 100_000}, "max_size"),
    ({**PG, "max_queries": "many"}, "max_queries"),
    ({**PG, "max_inactive_connection_lifetime": -1}, "max_inactive_connection_lifetime"),
    ({**PG, "connect_timeout": 0}, "connect_timeout"),
    ({**PG, "connect_timeout": "5"}, "connect_timeout"),
    ({**PG, "connect_timeout": float("inf")}, "connect_timeout"),
    ({**PG, "command_timeout": 0}, "command_timeout"),
    ({**PG, "ssl": "verify-full"}, "ssl"),
    ({**PG, "ssl": True}, "ssl"),
    ({**PG, "server_settings": {"application_name": 1}}, "server_settings"),
    ({**PG, "server_settings": ["application_name"]}, "server_settings"),
    ({**PG, "statement_cache_size": -1}, "statement_cache_size"),
    ({**PG, "max_szie": 3}, "max_szie"),
    ({**PG, "path": "x.db"}, "path"),
    ({**PG, "password": "hunter2-secret"}, "password"),
    ({**PG, "dsn": "postgresql://u:hunter2-secret@h/db"}, "dsn"),
    ({"driver": "sqlite"}, "path"),
    ({"driver": "sqlite", "path": 3}, "path"),
    ({**LITE, "max_size": 0}, "max_size"),
    ({**LITE, "max_size": "4"}, "max_size"),
    ({**LITE, "busy_timeout": -1}, "busy_timeout"),
    ({**LITE, "journal_mode": "wal2"}, "journal_mode"),
    ({"driver": "sqlite", "path": ":memory:", "max_size": 2}, "max_size"),
    ({**LITE, "port": 5432}, "port"),
    ({**LITE, "password": "hunter2-secret"}, "password"),
]


@pytest.mark.parametrize(("config", "key"), BAD_CONFIGS)
def test_bad_config_names_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        DatabaseResolver().validate(config)
    assert caught.value.fields["key"] == key
    assert repr(key) in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize(("config", "key"), BAD_CONFIGS)
async def test_create_checks_config_before_connecting(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ResourceConfigError) as caught:
        await DatabaseResolver().create(config, None)
    assert caught.value.fields["key"] == key


BAD_CREDENTIALS: list[tuple[dict[str, Any], Any]] = [
    (PG, {"token": "hunter2-secret"}),
    (PG, "hunter2-secret"),
    (PG, {"password": 1234}),
    (PG, {"user": "a", "username": "b", "password": "hunter2-secret"}),
    (LITE, {"password": "hunter2-secret"}),
    (LITE, {}),
]


@pytest.mark.parametrize(("config", "credentials"), BAD_CREDENTIALS)
async def test_bad_credentials_name_the_reference_not_the_value(
    config: dict[str, Any], credentials: Any
) -> None:
    # Port 1 on loopback: were anything to connect, it would fail differently.
    with pytest.raises(ResourceConfigError) as caught:
        await DatabaseResolver().create(
            {**config, "port": 1} if config is PG else config, credentials
        )
    assert caught.value.fields["key"] == "credentials_ref"
    assert "hunter2-secret" not in f"{caught.value} {caught.value!r}"


def test_postgres_defaults() -> None:
    settings = parse_postgres_config({"database": "app", "driver": "postgresql"})
    assert (settings.host, settings.port, settings.user) == ("127.0.0.1", 5432, "postgres")
    assert (settings.min_size, settings.max_size, settings.max_queries) == (1, 10, 50_000)
    assert settings.max_inactive_connection_lifetime == 300.0
    assert (settings.connect_timeout, settings.command_timeout) == (5.0, None)
    assert (settings.ssl, settings.server_settings, settings.statement_cache_size) == (
        "prefer",
        {},
        100,
    )
    assert settings.target == "PostgreSQL at 127.0.0.1:5432"
    assert (
        parse_postgres_config({"database": "a", "host": "::1"}).target == "PostgreSQL at [::1]:5432"
    )


def test_sqlite_defaults() -> None:
    settings = parse_sqlite_config({"driver": "sqlite", "path": "a.db"})
    assert (settings.max_size, settings.busy_timeout, settings.journal_mode) == (4, 5.0, "wal")
    assert parse_sqlite_config({"driver": "sqlite", "path": ":memory:"}).max_size == 1


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT $1, $2", "SELECT ?1, ?2"),
        ("SELECT $10 + $2", "SELECT ?10 + ?2"),
        ("SELECT '$1', $1", "SELECT '$1', ?1"),
        ("SELECT 'it''s $1' || $1", "SELECT 'it''s $1' || ?1"),
        ('SELECT "col$1" FROM t WHERE a = $1', 'SELECT "col$1" FROM t WHERE a = ?1'),
        ("SELECT $1 -- not $2\n, $3", "SELECT ?1 -- not $2\n, ?3"),
        ("SELECT /* $1 */ $2", "SELECT /* $1 */ ?2"),
        ("SELECT ?, ?", "SELECT ?, ?"),
        ("SELECT 'unterminated $1", "SELECT 'unterminated $1"),
    ],
)
def test_placeholders_are_rewritten_outside_literals(sql: str, expected: str) -> None:
    assert translate_placeholders(sql) == expected


def test_scripts_split_where_sqlite_sees_statement_ends() -> None:
    script = (
        "CREATE TABLE t (v TEXT);\n"
        "INSERT INTO t VALUES ('a;b');\n"
        "CREATE TRIGGER g AFTER INSERT ON t BEGIN UPDATE t SET v = v; END;\n"
        "SELECT 1"
    )
    assert [s.strip() for s in split_statements(script)] == [
        "CREATE TABLE t (v TEXT);",
        "INSERT INTO t VALUES ('a;b');",
        "CREATE TRIGGER g AFTER INSERT ON t BEGIN UPDATE t SET v = v; END;",
        "SELECT 1",
    ]
    assert split_statements(" ; ;") == []


@pytest.mark.parametrize("path", ["../outside.db", "/etc/passwd", ".lockgate/runs.sqlite3"])
def test_a_confined_sqlite_resolver_refuses_paths_outside_its_folder(
    tmp_path: Path, path: str
) -> None:
    resolver = SQLiteDatabaseResolver(base_dir=tmp_path)
    with pytest.raises(ResourceConfigError, match="inside") as raised:
        resolver.validate({"driver": "sqlite", "path": path})
    assert raised.value.fields["key"] == "path"
    resolver.validate({"driver": "sqlite", "path": "data/app.db"})


def test_the_run_store_file_is_refused_wherever_it_lives(tmp_path: Path) -> None:
    store = tmp_path / "data" / "runs.sqlite3"
    resolver = SQLiteDatabaseResolver(forbidden=(store,))
    for path in (
        str(store),
        f"{store}-wal",
        str(tmp_path / "data" / ".." / "data" / "runs.sqlite3"),
    ):
        with pytest.raises(ResourceConfigError, match="not the run store"):
            resolver.validate({"driver": "sqlite", "path": path})
    resolver.validate({"driver": "sqlite", "path": str(tmp_path / "data" / "app.db")})
