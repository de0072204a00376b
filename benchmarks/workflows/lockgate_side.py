"""Lockgate's half of the workflow benchmark: the gateway's workflow engine, in process.

Run by ``run.py`` under the project's interpreter, one scenario per fresh process (as the
Kailash half is), and prints one JSON object on stdout::

    python lockgate_side.py --store sqlite:///tmp/x.db --workflow pure --sequential 5000
    python lockgate_side.py --store memory:// --workflow chain --concurrent 200 --batches 5
    python lockgate_side.py --store sqlite:///tmp/y.db --rss-runs 100000 --rss-every 10000

Stores: ``sqlite:///PATH`` (WAL, ``synchronous=FULL`` unless ``--synchronous NORMAL``, a file
that must not exist yet),
``postgresql://...`` (a fresh schema, dropped on the way out), ``memory://`` (Lockgate's
``InMemoryRunStore``, which keeps every run it is given) and ``memory+drop://`` (the same
store, but a finished run is dropped from it: the engine alone, with nothing retained).

Workflows: ``pure`` is the two-step pure-compute workflow of the Kailash half, built the
same way with ``add_async_code``; ``chain`` is N trivial code steps each fed by the one
before; ``fanout`` is N independent trivial code steps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))  # lockgate from any cwd

from lockgate.bootstrap import Application, build
from lockgate.config.settings import Settings
from lockgate.gateways.interfaces import IRunStore, StepWrite
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.models.run import RunStatus, WorkflowRequest, WorkflowResponse
from lockgate.models.workflow import Workflow
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder

WORKFLOW_ID = "bench"
VALUES = [1, 2, 3]
EXPECTED_TOTAL = 12
WARM_UP_RUNS = 20  # as many as the Kailash half runs before it measures
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

# The Kailash half's steps, word for word.
STEP1 = """
import asyncio
await asyncio.sleep(0)
result = {"doubled": [v * 2 for v in values]}
"""
STEP2 = "result = {'total': sum(doubled), 'n': len(doubled)}"


def pure_workflow() -> Workflow:
    builder = AsyncWorkflowBuilder("pure_compute")
    builder.add_async_code("step1", STEP1)
    builder.add_async_code("step2", STEP2)
    builder.add_connection("step1", "result.doubled", "step2", "doubled")
    return builder.build()


def chain_workflow(steps: int) -> Workflow:
    """``s0`` returns 0 and each next step returns its input plus one."""
    builder = AsyncWorkflowBuilder("chain")
    builder.add_async_code("s0", "result = 0")
    for index in range(1, steps):
        builder.add_async_code(f"s{index}", "result = previous + 1")
        builder.add_connection(f"s{index - 1}", "result", f"s{index}", "previous")
    return builder.build()


def fanout_workflow(steps: int) -> Workflow:
    """``steps`` independent steps, each returning its own index."""
    builder = AsyncWorkflowBuilder("fanout")
    for index in range(steps):
        builder.add_async_code(f"s{index}", f"result = {index}")
    return builder.build()


def checker(workflow: str, steps: int) -> Callable[[WorkflowResponse], str | None]:
    """Why a returned run is wrong, or None when it completed with the expected outputs."""
    # A chain's step i adds one to step i-1's 0-based count; a fan-out's returns its index.
    expected: dict[str, Any] = {f"s{index}": index for index in range(steps)}
    if workflow == "pure":
        expected = {"step1": {"doubled": [2, 4, 6]}, "step2": {"total": EXPECTED_TOTAL, "n": 3}}

    def check(response: WorkflowResponse) -> str | None:
        if response.status is not RunStatus.COMPLETED:
            return f"status {response.status.value}: {response.error}"
        return None if response.result == expected else "wrong result"

    return check


class DroppingMemoryStore(InMemoryRunStore):
    """``InMemoryRunStore`` minus its retention: a finished run is forgotten, so whatever
    memory the process keeps across runs is the engine's own."""

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        finished = await super().finish_run(run_id, status, error, steps, at)
        if finished:
            self._runs.pop(run_id, None)
            self._leases.pop(run_id, None)
        return finished


def make_store(
    store_url: str, schema: str | None, synchronous: Literal["FULL", "NORMAL"] = "FULL"
) -> tuple[Settings, IRunStore | None, str]:
    """The settings and run store a scenario's gateway is built with, and how to call them."""
    if store_url == "memory+drop://":
        return Settings(run_store="memory://"), DroppingMemoryStore(), "memory, runs dropped"
    if store_url == "memory://":
        return Settings(run_store="memory://"), None, "memory (InMemoryRunStore)"
    if store_url.startswith("sqlite:///"):
        # As Lockgate reads it: sqlite:///relative/path, sqlite:////absolute/path.
        path = Path(store_url.removeprefix("sqlite:///"))
        if path.exists():
            raise FileExistsError(f"{path} exists; every scenario starts from a new file")
        settings = Settings(run_store=store_url, sqlite_synchronous=synchronous)
        return settings, None, f"sqlite, WAL, synchronous={synchronous}"
    if store_url.startswith(("postgresql://", "postgres://")):
        if schema is None:
            raise ValueError("a PostgreSQL store needs --schema (a fresh one, dropped after)")
        # Lazy: the SQLite and memory scenarios run without the PostgreSQL store.
        from lockgate.gateways.stores.runs.postgres import PostgresRunStore  # noqa: PLC0415

        store = PostgresRunStore(store_url, schema=schema)
        return Settings(run_store="memory://"), store, f"postgresql, schema {schema}"
    raise ValueError(f"unknown store {store_url!r}")


@contextlib.asynccontextmanager
async def gateway(
    settings: Settings, store: IRunStore | None, workflow: Workflow
) -> AsyncIterator[Application]:
    """A started gateway with ``workflow`` registered."""
    application = build(settings, run_store=store)
    application.register_workflow(WORKFLOW_ID, workflow)
    async with application:
        yield application


async def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


@dataclass(slots=True)
class Runner:
    """Runs the registered workflow and tallies what went wrong."""

    application: Application
    check: Callable[[WorkflowResponse], str | None]
    request: WorkflowRequest
    errors: Counter[str]

    async def once(self) -> float | None:
        """Milliseconds one correct run took, or None (the reason is counted in errors)."""
        start = time.perf_counter()
        try:
            response = await self.application.execute_workflow(WORKFLOW_ID, self.request)
        except Exception as error:
            self.errors[type(error).__name__] += 1
            return None
        elapsed_ms = (time.perf_counter() - start) * 1000
        problem = self.check(response)
        if problem is not None:
            self.errors[problem] += 1
            return None
        return elapsed_ms


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(slots=True)
class _Clock:
    """Wall, process CPU and this (event loop) thread's CPU, from ``start`` on."""

    wall: float
    cpu: float
    loop_cpu: float

    @classmethod
    def start(cls) -> _Clock:
        return cls(time.perf_counter(), time.process_time(), time.thread_time())

    def read(self) -> tuple[float, float, float]:
        return (
            time.perf_counter() - self.wall,
            time.process_time() - self.cpu,
            time.thread_time() - self.loop_cpu,
        )


def _costs(ok: int, steps: int, cpu: float, loop_cpu: float) -> dict[str, float]:
    runs, done_steps = max(1, ok), max(1, ok * steps)
    return {
        "cpu_ms_per_wf": cpu * 1000 / runs,
        "cpu_ms_per_step": cpu * 1000 / done_steps,
        "loop_cpu_ms_per_step": loop_cpu * 1000 / done_steps,
    }


async def sequential(runner: Runner, runs: int, steps: int) -> dict[str, Any]:
    latencies: list[float] = []
    clock = _Clock.start()
    for _ in range(runs):
        outcome = await runner.once()
        if outcome is not None:
            latencies.append(outcome)
    wall, cpu, loop_cpu = clock.read()
    ok = len(latencies)
    return {
        "runs": runs,
        "ok": ok,
        "failed": runs - ok,
        "wf_per_s": ok / wall,  # only correct runs count
        "steps_per_s": ok * steps / wall,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": _percentile(latencies, 0.99),
        **_costs(ok, steps, cpu, loop_cpu),
    }


async def concurrent(runner: Runner, width: int, batches: int, steps: int) -> dict[str, Any]:
    measured: list[dict[str, Any]] = []
    total_ok = 0
    total_wall = total_cpu = total_loop = 0.0
    for _ in range(batches):
        clock = _Clock.start()
        outcomes = await asyncio.gather(*(runner.once() for _ in range(width)))
        wall, cpu, loop_cpu = clock.read()
        ok = sum(1 for outcome in outcomes if outcome is not None)
        latencies = [outcome for outcome in outcomes if outcome is not None]
        measured.append(
            {
                "ok": ok,
                "failed": width - ok,
                "wf_per_s": ok / wall,
                "steps_per_s": ok * steps / wall,
                "p50_ms": statistics.median(latencies) if latencies else float("nan"),
                **_costs(ok, steps, cpu, loop_cpu),
            }
        )
        total_ok += ok
        total_wall += wall
        total_cpu += cpu
        total_loop += loop_cpu
    return {
        "width": width,
        "batches": measured,
        "failed": sum(batch["failed"] for batch in measured),
        "wf_per_s": total_ok / total_wall,
        "steps_per_s": total_ok * steps / total_wall,
        **_costs(total_ok, steps, total_cpu, total_loop),
    }


def rss_mib() -> float:
    """Resident set size now, from /proc/self/statm (pages)."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES / 2**20


async def rss_series(runner: Runner, runs: int, every: int, width: int) -> dict[str, Any]:
    """RSS after every ``every`` runs, run ``width`` at a time; a full collection before each
    sample, so the samples tell what is retained rather than when the collector last ran."""
    gc.collect()
    clock = _Clock.start()
    samples: list[tuple[int, float, float]] = [(0, rss_mib(), 0.0)]  # runs, MiB, seconds
    done = failed = 0
    while done < runs:
        batch = min(width, runs - done, every - done % every)
        outcomes = await asyncio.gather(*(runner.once() for _ in range(batch)))
        failed += sum(1 for outcome in outcomes if outcome is None)
        done += batch
        if done % every == 0 or done == runs:
            gc.collect()
            samples.append((done, rss_mib(), time.perf_counter() - clock.wall))
    wall, cpu, _ = clock.read()
    return {
        "runs": runs,
        "every": every,
        "width": width,
        "samples": samples,
        "failed": failed,
        "wf_per_s": (runs - failed) / wall,
        "cpu_ms_per_wf": cpu * 1000 / max(1, runs),
    }


def _step_count(args: argparse.Namespace) -> int:
    return 2 if args.workflow == "pure" else int(args.steps)


def _workflow(args: argparse.Namespace) -> Workflow:
    if args.workflow == "pure":
        return pure_workflow()
    if args.workflow == "chain":
        return chain_workflow(args.steps)
    return fanout_workflow(args.steps)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    steps = _step_count(args)
    errors: Counter[str] = Counter()
    request = WorkflowRequest(parameters={"values": VALUES} if args.workflow == "pure" else {})
    report: dict[str, Any] = {"workflow": args.workflow, "steps_per_workflow": steps}
    settings, store, report["store"] = make_store(args.store, args.schema, args.synchronous)
    try:
        async with gateway(settings, store, _workflow(args)) as application:
            runner = Runner(application, checker(args.workflow, steps), request, errors)
            for _ in range(WARM_UP_RUNS):
                await runner.once()
            if args.sequential:
                report["sequential"] = await sequential(runner, args.sequential, steps)
            if args.concurrent:
                report["concurrent"] = await concurrent(
                    runner, args.concurrent, args.batches, steps
                )
            if args.rss_runs:
                report["rss"] = await rss_series(runner, args.rss_runs, args.rss_every, args.width)
    finally:
        if args.schema is not None and store is not None:
            await drop_schema(args.store, args.schema)
    report["errors"] = errors.total()
    report["error_kinds"] = dict(errors)
    report["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", required=True, help="sqlite:///PATH, postgresql://..., ...")
    parser.add_argument("--schema", help="PostgreSQL: the fresh schema to use, dropped after")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    parser.add_argument("--workflow", choices=("pure", "chain", "fanout"), default="pure")
    parser.add_argument("--steps", type=int, default=10, help="steps of chain and fanout")
    parser.add_argument("--sequential", type=int, default=0, metavar="N")
    parser.add_argument("--concurrent", type=int, default=0, metavar="C")
    parser.add_argument("--batches", type=int, default=1, metavar="B")
    parser.add_argument("--rss-runs", type=int, default=0, metavar="R")
    parser.add_argument("--rss-every", type=int, default=10_000, metavar="E")
    parser.add_argument("--width", type=int, default=200, help="runs at once in --rss-runs")
    args = parser.parse_args(argv)
    if not (args.sequential or args.concurrent or args.rss_runs):
        parser.error("give --sequential N, --concurrent C [--batches B] or --rss-runs R")
    return args


if __name__ == "__main__":
    result = asyncio.run(main(parse_args()))
    print(json.dumps(result))
