"""The headline durability test: kill -9 of the gateway while 200 runs are in flight, then a
restart, on SQLite and on PostgreSQL.

Every step of the crash app's workflow appends ``"<pid> <tag> <step> start"`` to a side-effect
log (fsync'd before the step works), so after the restart the log says how many times each
step of each run ran, and in which gateway. The checkpoints committed before the kill are read
straight from the store while no gateway is running. Then: every run completes with the right
result; no step whose checkpoint was committed before the kill ran again; every other step ran
exactly once in the restarted gateway (so a step in flight at the kill ran at most once more).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.e2e.crash_app.crash_workflows import STEPS, expected
from tests.e2e.gateway_process import GatewayProcess, alive

CRASH_APP = Path(__file__).parent / "crash_app" / "lockgate.toml"
# The PostgreSQL server the test makes its own database on (and drops after). Its being
# down fails the test: CI starts the server first.
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
RUNS = 200
# The kill lands once this many step starts are logged: 40% of all of them, about when
# most runs' s1 is committed and their s2 and b are running (the gate makes them move
# roughly together).
KILL_AFTER_STARTS = RUNS * len(STEPS) * 2 // 5
NODE_ID = "crash-node"  # the same for both gateways: the restarted one reclaims at once

Key = tuple[str, str]  # (run tag, step)


@dataclass(frozen=True)
class StoreUnderTest:
    """A fresh, empty run store: its ``LOCKGATE_RUN_STORE`` URL, and a direct reader of the
    checkpoints and runs it holds (only to be called while no gateway is running)."""

    url: str
    read: Callable[[], Awaitable[tuple[set[tuple[str, str]], dict[str, str]]]]


@contextlib.asynccontextmanager
async def sqlite_store(tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    path = (tmp_path / "runs.sqlite3").resolve()

    async def read() -> tuple[set[tuple[str, str]], dict[str, str]]:
        # A normal connection: it recovers the WAL the killed gateway left behind.
        with contextlib.closing(sqlite3.connect(path)) as connection:
            steps = connection.execute(
                "SELECT run_id, name FROM lockgate_steps WHERE status = 'completed'"
            ).fetchall()
            runs = connection.execute("SELECT run_id, status FROM lockgate_runs").fetchall()
        return {(run_id, name) for run_id, name in steps}, dict(runs)

    yield StoreUnderTest(f"sqlite:///{path}", read)


@contextlib.asynccontextmanager
async def postgres_store(tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    """A database of its own on the test server, so the gateway's default schema is ours."""
    try:
        admin = await asyncpg.connect(POSTGRES_DSN, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        # Fail, never skip: CI must run this test on PostgreSQL.
        pytest.fail(f"the crash test needs PostgreSQL at {POSTGRES_DSN}: {exc!r}")
    database = f"lockgate_crash_{secrets.token_hex(6)}"
    dsn = urlsplit(POSTGRES_DSN)._replace(path=f"/{database}").geturl()

    async def read() -> tuple[set[tuple[str, str]], dict[str, str]]:
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            steps = await connection.fetch(
                "SELECT run_id, name FROM lockgate.lockgate_steps WHERE status = 'completed'"
            )
            runs = await connection.fetch("SELECT run_id, status FROM lockgate.lockgate_runs")
        finally:
            await connection.close()
        return {(row[0], row[1]) for row in steps}, {row[0]: row[1] for row in runs}

    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        yield StoreUnderTest(dsn, read)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


STORES = {"sqlite": sqlite_store, "postgres": postgres_store}


async def start_runs(client: httpx.AsyncClient) -> dict[str, str]:
    """Start every run without waiting for it; run tag -> run id."""

    async def start(index: int) -> tuple[str, str]:
        tag = f"r{index:03d}"
        response = await client.post(
            "/workflows/crash/runs",
            params={"wait": "false"},
            json={"parameters": {"tag": tag, "n": index}},
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "running", body
        return tag, body["run_id"]

    return dict(await asyncio.gather(*(start(index) for index in range(RUNS))))


def logged_starts(log: Path) -> int:
    try:
        return log.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


async def wait_for_starts(log: Path, count: int) -> None:
    try:
        async with asyncio.timeout(30):
            while logged_starts(log) < count:  # noqa: ASYNC110 - a file, no event to wait on
                await asyncio.sleep(0.005)
    except TimeoutError:
        pytest.fail(f"only {logged_starts(log)} step starts logged in 30 s")


async def wait_until_finished(
    client: httpx.AsyncClient, run_ids: Iterable[str], gateway: GatewayProcess
) -> dict[str, dict[str, Any]]:
    """Each run's JSON once none is running any more; fails after a minute."""
    pending = set(run_ids)
    finished: dict[str, dict[str, Any]] = {}
    try:
        async with asyncio.timeout(60):
            while pending:
                responses = await asyncio.gather(*(client.get(f"/runs/{id_}") for id_ in pending))
                for response in responses:
                    assert response.status_code == 200, response.text
                    body = response.json()
                    if body["status"] != "running":
                        finished[body["run_id"]] = body
                pending -= finished.keys()
                if pending:
                    await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(
            f"{len(pending)} of {RUNS} runs still running 60 s after the restart; "
            f"gateway output: {gateway.read_output()[-4000:]!r}"
        )
    return finished


def executions(log: Path) -> dict[Key, Counter[int]]:
    """How many times each step of each run started, by gateway pid."""
    counts: dict[Key, Counter[int]] = {}
    for line in log.read_text().splitlines():
        pid, tag, step, what = line.split(" ")
        assert what == "start", line
        counts.setdefault((tag, step), Counter())[int(pid)] += 1
    return counts


def some(keys: Iterable[Any], limit: int = 10) -> str:
    listed = sorted(keys)
    more = f" (and {len(listed) - limit} more)" if len(listed) > limit else ""
    return ", ".join(map(str, listed[:limit])) + more


@pytest.mark.parametrize("store", sorted(STORES))
async def test_kill_9_mid_flight_then_restart_completes_every_run_without_rerunning_checkpoints(
    store: str, tmp_path: Path
) -> None:
    log = tmp_path / "side-effects.log"
    gate = tmp_path / "gate"
    async with STORES[store](tmp_path) as under_test:
        env = {
            "LOCKGATE_RUN_STORE": under_test.url,
            "LOCKGATE_NODE_ID": NODE_ID,
            "LOCKGATE_SHUTDOWN_GRACE": "1",
            "CRASH_LOG": str(log),
            "CRASH_GATE": str(gate),
        }
        limits = httpx.Limits(max_connections=50)

        with GatewayProcess(CRASH_APP, env=env) as first:
            first_pid = first.pid
            async with httpx.AsyncClient(base_url=first.url, timeout=30, limits=limits) as client:
                runs = await start_runs(client)
            gate.touch()  # every run is accepted (so committed): let them go
            await wait_for_starts(log, KILL_AFTER_STARTS)
            assert first.process is not None
            first.process.kill()
            assert first.wait(10) == -signal.SIGKILL
        assert not alive(first_pid)

        committed_ids, statuses = await under_test.read()
        tags = {run_id: tag for tag, run_id in runs.items()}
        assert statuses.keys() == tags.keys()  # every accepted run was in the store
        committed = {(tags[run_id], step) for run_id, step in committed_ids}
        unfinished = sum(status == "running" for status in statuses.values())

        with GatewayProcess(CRASH_APP, env=env) as second:
            second_pid = second.pid
            async with httpx.AsyncClient(base_url=second.url, timeout=30, limits=limits) as client:
                final = await wait_until_finished(client, runs.values(), second)

    counts = executions(log)
    in_flight = {key for key in counts.keys() - committed if counts[key][first_pid]}
    # Shown when a check below fails (pytest prints a failing test's output).
    print(
        f"{store}: killed after {KILL_AFTER_STARTS} step starts; {len(committed)} checkpoints "
        f"committed, {len(in_flight)} steps in flight, {unfinished} of {RUNS} runs unfinished"
    )

    # Every run completed with the right answer; each step's result is the checkpoint the
    # first gateway committed, or else the one execution in the second.
    wrong: list[str] = []
    for tag, run_id in runs.items():
        body = final[run_id]
        result = body["result"]
        if body["status"] != "completed" or set(result) != set(STEPS):
            wrong.append(f"{tag}: {body['status']} {body.get('error')!r}, results {some(result)}")
        elif result["s4"]["value"] != expected(int(tag[1:])):
            wrong.append(f"{tag}: s4 = {result['s4']['value']}, not {expected(int(tag[1:]))}")
        elif any(
            result[step]["pid"] != (first_pid if (tag, step) in committed else second_pid)
            for step in STEPS
        ):
            wrong.append(f"{tag}: results from the wrong gateway: {result}")
    assert not wrong, f"{len(wrong)} runs did not complete right: {some(wrong)}"

    pids = {pid for counter in counts.values() for pid in counter}
    assert pids <= {first_pid, second_pid}, f"steps ran in unknown processes: {pids}"
    every = {(tag, step) for tag in runs for step in STEPS}
    never_ran = every - counts.keys()
    assert not never_ran, f"steps that never ran: {some(never_ran)}"

    rerun = {key for key in committed if counts[key][second_pid]}
    assert not rerun, f"steps checkpointed before the kill ran again: {some(rerun)}"
    unlogged = {key for key in committed if counts[key][first_pid] != 1}
    assert not unlogged, f"checkpointed steps not logged once before the kill: {some(unlogged)}"
    not_once = {key for key in every - committed if counts[key][second_pid] != 1}
    assert not not_once, f"other steps not run once after the restart: {some(not_once)}"
    too_often = {key for key in every if counts[key].total() > 2}
    assert not too_often, f"steps that ran more than twice: {some(too_often)}"

    # The test must have exercised the interesting case, or it proves nothing.
    assert committed, "no checkpoint was committed before the kill: kill later"
    assert in_flight, "no step was in flight at the kill: the kill came between steps"
    assert unfinished, "every run had finished before the kill: kill earlier"
