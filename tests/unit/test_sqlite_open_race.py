"""Connections switching one new SQLite file to WAL at the same moment (two gateways starting,
a store's writers opening) all succeed: the switch can deadlock between them, and SQLite then
answers one "database is locked" at once, without its busy timeout, so ``use_wal`` tries
again. Plain ``PRAGMA journal_mode = WAL`` loses this race about one time in seven here."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from lockgate.gateways.stores.sqlite_base import use_wal

OPENERS = 4


def race(path: Path) -> list[BaseException]:
    """``OPENERS`` connections, lined up by a barrier, each switching ``path`` to WAL and
    then writing; what any of them raised."""
    lined_up = threading.Barrier(OPENERS)
    raised: list[BaseException] = []

    def open_and_write() -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            lined_up.wait()
            use_wal(connection)
            connection.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY)")
        except BaseException as exc:  # reported to the test thread
            raised.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_and_write) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


def test_connections_switching_a_new_file_to_wal_at_once_all_succeed(tmp_path: Path) -> None:
    for trial in range(100):
        path = tmp_path / f"race-{trial}.sqlite3"
        assert race(path) == [], f"trial {trial}"
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
