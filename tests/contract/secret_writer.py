"""A process that writes one secret over and over through its own store connection, as a
gateway node would, until told to stop: what the cross-process rotation test runs.

It reports ``{"done", "refused", "last"}`` in ``STATUS_DIR/NAME.json`` after every attempt
and stops once ``STATUS_DIR/stop`` exists. Its key source is the key file, re-read when the
store turns out to be under another key (as ``lockgate serve`` does).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from lockgate.errors import MasterKeyRotatedError
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey
from tests.contract.secret_stores import MAKERS

__all__ = ["read_status", "write_until_stopped"]


def read_status(folder: Path, name: str) -> dict[str, object]:
    """What the writer ``name`` last reported (nothing yet: no attempts)."""
    try:
        status: dict[str, object] = json.loads((folder / f"{name}.json").read_text())
    except FileNotFoundError:
        return {"done": 0, "refused": 0, "last": None}
    return status


def write_until_stopped(kind: str, path: str, schema: str, key_file: str, name: str) -> None:
    """The process's target: writes ``name`` until ``stop`` appears beside ``key_file``."""
    asyncio.run(_write(kind, Path(path), schema, Path(key_file), name))


async def _write(kind: str, path: Path, schema: str, key_file: Path, name: str) -> None:
    folder = key_file.parent
    store = MAKERS[kind](path, schema)
    await store.open()
    try:
        manager = SecretManager(
            store,
            MasterKey.from_file(key_file),
            cache_ttl=0,
            key_source=lambda: MasterKey.from_file(key_file),
        )
        done = refused = 0
        last: str | None = None
        while not (folder / "stop").exists():
            value = f"{name}-value-{done + refused}"
            try:
                await manager.store_secret(name, value)
            except MasterKeyRotatedError:
                refused += 1
            else:
                done, last = done + 1, value
            report = folder / f"{name}.json.tmp"
            report.write_text(json.dumps({"done": done, "refused": refused, "last": last}))
            os.replace(report, folder / f"{name}.json")
    finally:
        await store.close()
