"""The fixtures every store contract suite runs on: ``backend`` (memory, SQLite and the real
PostgreSQL on this machine, each test in a fresh schema dropped afterwards), ``durable`` (the
two whose data outlives a store) and ``store`` (one opened on ``backend``), made from the
``makers`` fixture each suite defines for its port (``backends.Makers``).

PostgreSQL being down fails the PostgreSQL tests: ``.ci/run`` starts the server first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.backends import (
    DURABLE_KINDS,
    KINDS,
    Backend,
    Makers,
    backend_of,
    drop_schema,
    fresh_schema,
)


@pytest.fixture(params=KINDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, makers: Makers
) -> AsyncIterator[Backend[Any]]:
    async with backend_of(request.param, tmp_path, makers) as opened:
        yield opened


@pytest.fixture(params=DURABLE_KINDS)
async def durable(
    request: pytest.FixtureRequest, tmp_path: Path, makers: Makers
) -> AsyncIterator[Backend[Any]]:
    async with backend_of(request.param, tmp_path, makers) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend[Any]) -> Any:
    return await backend.open()


@pytest.fixture
async def pg_schema_name() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema name, dropped after the test."""
    schema = fresh_schema()
    try:
        yield schema
    finally:
        await drop_schema(schema)
