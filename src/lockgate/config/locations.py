"""Where a gateway's stores and files live, from its settings alone (no I/O, no heavy
imports: the CLI asks this too). Every store shares the run store's database: the same
SQLite file (tables of their own) or the same PostgreSQL DSN and schema."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from lockgate.config.settings import Settings

__all__ = [
    "config_dir",
    "describe_store",
    "local_admin_token_path",
    "sqlite_path",
    "store_kind",
    "store_url",
]


def config_dir(settings: Settings) -> Path:
    """The config file's folder (the working directory without one)."""
    return settings.config.parent if settings.config is not None else Path.cwd()


def store_kind(settings: Settings) -> Literal["memory", "postgres", "sqlite"]:
    """Which database ``settings.run_store`` names; the other stores live on the same one."""
    url = settings.run_store
    if url == "memory://":
        return "memory"
    if url is not None and url.startswith(("postgresql://", "postgres://")):
        return "postgres"
    return "sqlite"


def store_url(settings: Settings) -> str:
    """The PostgreSQL DSN (only asked of a PostgreSQL run store)."""
    assert settings.run_store is not None
    return settings.run_store


def sqlite_path(settings: Settings) -> Path:
    """The SQLite file of a ``sqlite:///`` run store, or the default beside the config."""
    if settings.run_store is not None:
        return Path(settings.run_store.removeprefix("sqlite:///")).expanduser()
    return config_dir(settings) / ".lockgate" / "runs.sqlite3"


def local_admin_token_path(settings: Settings) -> Path:
    """Where the local admin token file is: ``admin_token_file``, else beside the run
    store's SQLite file, else in ``.lockgate/`` beside the config."""
    if settings.admin_token_file is not None:
        return settings.admin_token_file.expanduser()
    if store_kind(settings) == "sqlite":
        return sqlite_path(settings).parent / "admin.token"
    return config_dir(settings) / ".lockgate" / "admin.token"


def describe_store(settings: Settings) -> str:
    """Which database the stores are on, for people: the SQLite file's absolute path, or the
    PostgreSQL server and database (never the user's password)."""
    kind = store_kind(settings)
    if kind == "memory":
        return "memory:// (nothing is kept)"
    if kind == "sqlite":
        return f"the SQLite file {sqlite_path(settings).absolute()}"
    parts = urlsplit(store_url(settings))
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port: still say which server
        port = ""
    return f"PostgreSQL {parts.hostname or 'localhost'}{port}{parts.path or '/'}"
