"""Creates the ``users`` table the example's workflows read (schema ``lockgate_example``).

.venv/bin/python examples/resources/seed_data.py [postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

USERS = [(1, "ann", "active"), (2, "bob", "inactive"), (3, "cy", "active")]


async def create_users(dsn: str, schema: str = "lockgate_example") -> None:
    """(Re)create ``schema.users`` with three users."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await connection.execute(f'DROP TABLE IF EXISTS "{schema}".users')
            await connection.execute(
                f'CREATE TABLE "{schema}".users (id int PRIMARY KEY, name text, status text)'
            )
            await connection.executemany(f'INSERT INTO "{schema}".users VALUES ($1, $2, $3)', USERS)
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(
        create_users(
            sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
        )
    )
