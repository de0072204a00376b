"""The secrets' schema, as numbered migrations, versioned in its own table
(``lockgate_secret_schema``) so it evolves apart from the run store's in the same database.
Never edit a released script: append a new one."""

from __future__ import annotations

from typing import Any

from lockgate.models.secret import SecretEnvelope

__all__ = [
    "ENVELOPE_COLUMNS",
    "METADATA_COLUMNS",
    "POSTGRES_SECRET_MIGRATIONS",
    "SQLITE_SECRET_MIGRATIONS",
    "envelope",
    "envelope_row",
]

# In SecretEnvelope's field order.
ENVELOPE_COLUMNS = "name, key_id, wrapped_key, nonce, ciphertext, created_at, updated_at, version"
# In SecretMetadata's field order.
METADATA_COLUMNS = "name, created_at, updated_at, key_id, version"


def envelope_row(value: SecretEnvelope) -> tuple[Any, ...]:
    return (
        value.name,
        value.key_id,
        value.wrapped_key,
        value.nonce,
        value.ciphertext,
        value.created_at,
        value.updated_at,
        value.version,
    )


def envelope(row: Any) -> SecretEnvelope:
    return SecretEnvelope(
        name=row[0],
        key_id=row[1],
        wrapped_key=bytes(row[2]),
        nonce=bytes(row[3]),
        ciphertext=bytes(row[4]),
        created_at=row[5],
        updated_at=row[6],
        version=row[7],
    )


SQLITE_SECRET_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE lockgate_secrets (
            name        TEXT PRIMARY KEY,
            key_id      TEXT NOT NULL,
            wrapped_key BLOB NOT NULL,
            nonce       BLOB NOT NULL,
            ciphertext  BLOB NOT NULL,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL,
            version     INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
    ),
)

POSTGRES_SECRET_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE {schema}.lockgate_secrets (
            name        text COLLATE "C" PRIMARY KEY,
            key_id      text NOT NULL,
            wrapped_key bytea NOT NULL,
            nonce       bytea NOT NULL,
            ciphertext  bytea NOT NULL,
            created_at  double precision NOT NULL,
            updated_at  double precision NOT NULL,
            version     integer NOT NULL
        )
        """,
    ),
)
