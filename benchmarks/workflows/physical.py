"""The physical limit of a durable step: how fast this machine's storage can commit.

A durable engine must make a step's output durable before the next step starts, so one
synced commit per step bounds a sequential workflow; group commit (many steps' rows in one
commit) lifts that bound to what the disk can write. These numbers are the floor that the
engines' results are read against.

    python benchmarks/workflows/physical.py [--dsn DSN] [--seconds S] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import TypedDict

__all__ = [
    "CommitRate",
    "GroupCommitRate",
    "postgres_commit_rate",
    "postgres_settings",
    "sqlite_commit_rate",
    "sqlite_group_commit_rate",
]

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
WARM_UP_COMMITS = 50  # the first commits create the WAL and extend the files


class CommitRate(TypedDict):
    """One row per synced commit."""

    commits_per_s: float
    p50_us: float
    p99_us: float


class GroupCommitRate(TypedDict):
    """Many rows per synced commit."""

    rows_per_s: float
    commits_per_s: float
    rows_per_commit: int


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _rate(latencies_ns: list[int], wall_s: float) -> CommitRate:
    ordered = sorted(ns / 1000 for ns in latencies_ns)
    return CommitRate(
        commits_per_s=len(latencies_ns) / wall_s,
        p50_us=_percentile(ordered, 0.50),
        p99_us=_percentile(ordered, 0.99),
    )


def _open_sqlite(path: Path) -> sqlite3.Connection:
    if path.exists():
        raise FileExistsError(f"{path} exists; the benchmark creates and deletes its own file")
    # Autocommit mode: the transactions below are the explicit BEGIN IMMEDIATE ... COMMIT.
    db = sqlite3.connect(path, isolation_level=None)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        raise RuntimeError(f"SQLite refused WAL mode at {path} (got {mode})")
    # FULL syncs the WAL on every commit: the commit survives a power loss, not just a crash.
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE steps (id INTEGER PRIMARY KEY, output BLOB NOT NULL)")
    return db


def _remove_sqlite(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        name.unlink(missing_ok=True)


def sqlite_commit_rate(path: Path, seconds: float = 3.0, row_bytes: int = 200) -> CommitRate:
    """Synced commits/s of one ``row_bytes`` row each, in a new SQLite file at ``path``."""
    db = _open_sqlite(path)

    def commit(output: bytes) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO steps (output) VALUES (?)", (output,))
        db.execute("COMMIT")

    try:
        for _ in range(WARM_UP_COMMITS):
            commit(os.urandom(row_bytes))
        latencies: list[int] = []
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            output = os.urandom(row_bytes)  # incompressible, and drawn outside the timed part
            begin = time.perf_counter_ns()
            commit(output)
            latencies.append(time.perf_counter_ns() - begin)
        return _rate(latencies, time.perf_counter() - started)
    finally:
        db.close()
        _remove_sqlite(path)


def sqlite_group_commit_rate(
    path: Path, seconds: float = 3.0, rows_per_commit: int = 64, row_bytes: int = 200
) -> GroupCommitRate:
    """Rows/s when ``rows_per_commit`` rows share each synced commit: the group-commit ceiling."""
    db = _open_sqlite(path)
    try:
        insert = "INSERT INTO steps (output) VALUES (?)"
        # Reused batches keep os.urandom out of the loop; the rows are still incompressible.
        batches = [[(os.urandom(row_bytes),) for _ in range(rows_per_commit)] for _ in range(8)]
        for batch in batches:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, batch)
            db.execute("COMMIT")
        commits = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, batches[commits % len(batches)])
            db.execute("COMMIT")
            commits += 1
        wall = time.perf_counter() - started
        return GroupCommitRate(
            rows_per_s=commits * rows_per_commit / wall,
            commits_per_s=commits / wall,
            rows_per_commit=rows_per_commit,
        )
    finally:
        db.close()
        _remove_sqlite(path)


async def postgres_commit_rate(dsn: str, seconds: float = 3.0, row_bytes: int = 200) -> CommitRate:
    """Commits/s of one ``row_bytes`` row each, through asyncpg on one connection."""
    # Lazy: only the PostgreSQL measurements need asyncpg; the SQLite ones run without it.
    import asyncpg  # noqa: PLC0415

    # A plain table, not TEMPORARY or UNLOGGED: those write no WAL, so their commits skip the
    # flush and would measure no durability at all. A unique name keeps parallel runs apart.
    table = f"lockgate_commit_probe_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, output bytea NOT NULL)"
        )
        try:
            # No explicit transaction: each INSERT commits on its own, in one round trip.
            insert = f"INSERT INTO {table} (output) VALUES ($1)"
            for _ in range(WARM_UP_COMMITS):
                await conn.execute(insert, os.urandom(row_bytes))
            latencies: list[int] = []
            started = time.perf_counter()
            deadline = started + seconds
            while time.perf_counter() < deadline:
                output = os.urandom(row_bytes)
                begin = time.perf_counter_ns()
                await conn.execute(insert, output)
                latencies.append(time.perf_counter_ns() - begin)
            return _rate(latencies, time.perf_counter() - started)
        finally:
            await conn.execute(f"DROP TABLE {table}")
    finally:
        await conn.close()


async def postgres_settings(dsn: str) -> dict[str, str]:
    """The server settings that decide whether a commit waits for the disk."""
    import asyncpg  # noqa: PLC0415

    conn = await asyncpg.connect(dsn)
    try:
        names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
        return {name: str(await conn.fetchval(f"SHOW {name}")) for name in names}
    finally:
        await conn.close()


async def _postgres(dsn: str, seconds: float) -> dict[str, object]:
    try:
        settings = await postgres_settings(dsn)
        return {"settings": settings, **(await postgres_commit_rate(dsn, seconds))}
    except (ImportError, OSError) as error:  # no asyncpg, or no server listening at dsn
        return {"skipped": f"{type(error).__name__}: {error}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="PostgreSQL to measure")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where the SQLite files go: the disk being measured (a tmpfs syncs nothing)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".physical-") as scratch:
        single = sqlite_commit_rate(Path(scratch) / "single.db", args.seconds)
        group = sqlite_group_commit_rate(Path(scratch) / "group.db", args.seconds)
    report = {
        "sqlite_wal_full": single,
        "sqlite_wal_full_group_commit": group,
        "postgres_asyncpg_1_conn": asyncio.run(_postgres(args.dsn, args.seconds)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
