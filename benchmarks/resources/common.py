"""What every Lockgate scenario of the resources benchmark starts from: the PostgreSQL
``database`` config and credentials read from the DSN, and secrets held by a
``SecretManager`` over the in-memory store (the server trusts loopback, so the password is
never checked; it is there so that credentials travel the way they do in production)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key

__all__ = [
    "ANY_ADDRESS",
    "CREDENTIALS_SECRET",
    "credentials",
    "master_key",
    "memory_secrets",
    "postgres_config",
]

CREDENTIALS_SECRET = "bench_pg"
ANY_ADDRESS = ["0.0.0.0/0", "::/0"]
"""``inline_allowed_hosts`` for the benchmarks' inline references: the server is the
operator's own (usually on loopback, which the default policy refuses)."""


def postgres_config(dsn: str, *, max_size: int, application_name: str) -> dict[str, Any]:
    """A ``database`` reference's config for the server ``dsn`` names (no credentials)."""
    parts = urlsplit(dsn)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": unquote(parts.path.lstrip("/")) or "postgres",
        "min_size": 1,
        "max_size": max_size,
        "server_settings": {"application_name": application_name},
    }


def credentials(dsn: str) -> dict[str, str]:
    """The credentials secret's value: the DSN's user, and a password trust auth ignores."""
    return {"user": unquote(urlsplit(dsn).username or "postgres"), "password": "x"}


def master_key() -> MasterKey:
    return MasterKey.from_base64(generate_master_key())


async def memory_secrets(dsn: str, *, cache_ttl: float = 300.0) -> SecretManager:
    """A ``SecretManager`` on the in-memory store holding ``CREDENTIALS_SECRET``."""
    manager = SecretManager(InMemorySecretStore(), master_key(), cache_ttl=cache_ttl)
    await manager.store_secret(CREDENTIALS_SECRET, credentials(dsn))
    return manager
