"""The credential store's schema, as numbered migrations versioned in its own table
(``lockgate_credential_schema``). Never edit a released script: append a new one."""

from __future__ import annotations

from typing import Any

from lockgate.models.security.principals import Credential, CredentialKind

__all__ = [
    "COLUMNS",
    "POSTGRES_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "VERSIONS",
    "credential",
    "credential_row",
]

VERSIONS = "lockgate_credential_schema"
# In the order of credential_row / credential.
COLUMNS = "credential_id, kind, name, secret_hash, created_at, scopes, plan, last_used_at"


def credential_row(value: Credential) -> tuple[Any, ...]:
    return (
        value.credential_id,
        value.kind.value,
        value.name,
        value.secret_hash,
        value.created_at,
        " ".join(value.scopes),
        value.plan,
        value.last_used_at,
    )


def credential(row: Any) -> Credential:
    return Credential(
        credential_id=row[0],
        kind=CredentialKind(row[1]),
        name=row[2],
        secret_hash=row[3],
        created_at=row[4],
        scopes=tuple(row[5].split()),
        plan=row[6],
        last_used_at=row[7],
    )


SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE lockgate_credentials (
            credential_id TEXT PRIMARY KEY,
            kind          TEXT NOT NULL,
            name          TEXT NOT NULL,
            secret_hash   TEXT NOT NULL UNIQUE,
            created_at    REAL NOT NULL,
            scopes        TEXT NOT NULL,
            plan          TEXT,
            last_used_at  REAL,
            UNIQUE (kind, name)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE lockgate_credential_usage (
            credential_id TEXT NOT NULL,
            period        TEXT NOT NULL,
            count         INTEGER NOT NULL,
            PRIMARY KEY (credential_id, period)
        ) WITHOUT ROWID
        """,
    ),
)

POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE {schema}.lockgate_credentials (
            credential_id text PRIMARY KEY,
            kind          text NOT NULL,
            name          text NOT NULL,
            secret_hash   text NOT NULL UNIQUE,
            created_at    double precision NOT NULL,
            scopes        text NOT NULL,
            plan          text,
            last_used_at  double precision,
            UNIQUE (kind, name)
        )
        """,
        """
        CREATE TABLE {schema}.lockgate_credential_usage (
            credential_id text NOT NULL,
            period        text NOT NULL,
            count         bigint NOT NULL,
            PRIMARY KEY (credential_id, period)
        )
        """,
    ),
)
