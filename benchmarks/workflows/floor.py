"""The floor of a durable two-step run on SQLite: Lockgate's own writes, without Lockgate.

``physical.py`` measures a one-row commit into a one-table file. A two-step run writes more:
the run's row (with its two indexes) and step1's checkpoint in one transaction, then the run's
final status and step2's record in another, into Lockgate's real schema (its migrations). This
loop does exactly those two synced transactions per run with plain ``sqlite3``, so its rate is
what Lockgate's sequential number would be if the engine and the store's glue cost nothing.

    python benchmarks/workflows/floor.py [--seconds S] [--dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # lockgate from any cwd

from lockgate.gateways.stores.runs.schema import SQLITE_MIGRATIONS

__all__ = ["TwoStepFloor", "sqlite_two_step_floor"]

WARM_UP_RUNS = 300  # the WAL grows to its working size (then checkpoints and is reused)
# The statements SQLiteRunStore runs for a two-step run, with the same columns and values.
_INSERT_RUN = (
    "INSERT INTO lockgate_runs (run_id, workflow_id, status, parameters, resources, context, "
    "idempotency_key, request_hash, created_at, updated_at, deadline, error, owner, "
    "lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_STEP = (
    "INSERT INTO lockgate_steps (run_id, name, status, output, error, attempts, started_at, "
    "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) DO UPDATE SET "
    "status = excluded.status, output = excluded.output, error = excluded.error, "
    "attempts = excluded.attempts, started_at = excluded.started_at, "
    "finished_at = excluded.finished_at"
)
_FINISH = (
    "UPDATE lockgate_runs SET status = ?, error = ?, updated_at = ?, owner = NULL "
    "WHERE run_id = ? AND status = 'running'"
)


class TwoStepFloor(TypedDict):
    wf_per_s: float
    commits_per_s: float
    commit_p50_us: float
    wal_frames_per_commit: float


def _open(path: Path) -> sqlite3.Connection:
    if path.exists():
        raise FileExistsError(f"{path} exists; the benchmark creates and deletes its own file")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("BEGIN IMMEDIATE")
    for script in SQLITE_MIGRATIONS:
        for statement in script:
            db.execute(statement)
    db.execute("COMMIT")
    return db


def sqlite_two_step_floor(path: Path, seconds: float = 3.0) -> TwoStepFloor:
    """Two-step runs/s written as SQLiteRunStore writes them, in a new file at ``path``."""
    db = _open(path)
    counter = itertools.count()
    latencies: list[float] = []

    def transaction(*statements: tuple[str, tuple[object, ...]]) -> None:
        begin = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for sql, arguments in statements:
            db.execute(sql, arguments)
        db.execute("COMMIT")
        latencies.append(time.perf_counter() - begin)

    def run() -> None:
        now = time.time()
        run_id = f"{time.time_ns() // 1000:013x}{next(counter):014x}"  # as new_run_id sorts
        row = (run_id, "pure", "running", b'{"values":[1,2,3]}', b"{}", b"{}", None, "0" * 64)
        step1 = (run_id, "step1", "completed", b'{"doubled":[2,4,6]}', None, 1, now, now)
        step2 = (run_id, "step2", "completed", b'{"total":12,"n":3}', None, 1, now, now)
        transaction(
            (_INSERT_RUN, (*row, now, now, None, None, "bench", now + 30)), (_UPSERT_STEP, step1)
        )
        transaction((_FINISH, ("completed", None, now, run_id)), (_UPSERT_STEP, step2))

    try:
        for _ in range(WARM_UP_RUNS):
            run()
        # Frames per commit from a stretch without checkpoints, then the default back on.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        for _ in range(100):
            run()
        frames = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]  # (busy, log, done)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA wal_autocheckpoint = 1000")
        latencies.clear()
        runs = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            run()
            runs += 1
        wall = time.perf_counter() - started
        return TwoStepFloor(
            wf_per_s=runs / wall,
            commits_per_s=2 * runs / wall,
            commit_p50_us=statistics.median(latencies) * 1e6,
            wal_frames_per_commit=frames / 200,
        )
    finally:
        db.close()
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            name.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the measurement")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where the SQLite file goes: the disk being measured (a tmpfs syncs nothing)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix=".floor-") as scratch:
        print(json.dumps(sqlite_two_step_floor(Path(scratch) / "floor.sqlite3", args.seconds)))


if __name__ == "__main__":
    main()
