"""The secrets' schema, as numbered migrations, versioned in its own table
(``lockgate_secret_schema``) so it evolves apart from the run store's in the same database.
Never edit a released script: append a new one.

Version 2 adds the keyring row (``lockgate_secret_keyring``: the one current master key id,
which every write checks and every rotation changes under the same row lock) and each
secret's previous wrapping (its data key wrapped by the key the last rotation replaced). An
existing database's current key is the one its secrets are under; with none, or with
secrets under several keys (left by the race this version closes), it is left unset: the
first write to an empty store sets it, and a rotation sets it for all.
"""

from __future__ import annotations

from typing import Any

from lockgate.models.secret import SecretEnvelope

__all__ = [
    "ENVELOPE_COLUMNS",
    "KEY_STATE_QUERY",
    "METADATA_COLUMNS",
    "POSTGRES_SECRET_MIGRATIONS",
    "SQLITE_SECRET_MIGRATIONS",
    "envelope",
    "envelope_row",
]

# In SecretEnvelope's field order.
ENVELOPE_COLUMNS = (
    "name, key_id, wrapped_key, nonce, ciphertext, created_at, updated_at, version, "
    "previous_key_id, previous_wrapped_key"
)
# Rows of SecretKeyState.wrappings (both SQLite and PostgreSQL).
KEY_STATE_QUERY = (
    "SELECT key_id, previous_key_id, count(*) FROM lockgate_secrets "
    "GROUP BY key_id, previous_key_id ORDER BY key_id, previous_key_id"
)
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
        value.previous_key_id,
        value.previous_wrapped_key,
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
        previous_key_id=row[8],
        previous_wrapped_key=None if row[9] is None else bytes(row[9]),
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
    (
        "ALTER TABLE lockgate_secrets ADD COLUMN previous_key_id TEXT",
        "ALTER TABLE lockgate_secrets ADD COLUMN previous_wrapped_key BLOB",
        """
        CREATE TABLE lockgate_secret_keyring (
            id             INTEGER PRIMARY KEY CHECK (id = 1),
            current_key_id TEXT
        )
        """,
        """
        INSERT INTO lockgate_secret_keyring (id, current_key_id)
        SELECT 1, CASE WHEN count(DISTINCT key_id) = 1 THEN min(key_id) END
        FROM lockgate_secrets
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
    (
        "ALTER TABLE {schema}.lockgate_secrets ADD COLUMN previous_key_id text",
        "ALTER TABLE {schema}.lockgate_secrets ADD COLUMN previous_wrapped_key bytea",
        """
        CREATE TABLE {schema}.lockgate_secret_keyring (
            id             integer PRIMARY KEY CHECK (id = 1),
            current_key_id text
        )
        """,
        """
        INSERT INTO {schema}.lockgate_secret_keyring (id, current_key_id)
        SELECT 1, CASE WHEN count(DISTINCT key_id) = 1 THEN min(key_id) END
        FROM {schema}.lockgate_secrets
        """,
    ),
)
