"""Lockgate's workflow benchmark, side by side with Kailash 2.65 and the physical limit.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/workflows/run.py [--quick] [--skip-kailash] [--skip-postgres]

In one run, each scenario in a fresh process, it measures:

- the two-step pure-compute workflow of kailash.md §3 (step1 doubles ``values``, step2 sums
  them), built with ``add_async_code`` as the Kailash side builds it: Lockgate durable on
  SQLite (WAL, synchronous=FULL, a new file) and on PostgreSQL (a new schema, dropped after),
  Lockgate on its memory store, and Kailash 2.65 (no durability): N runs one at a time
  (workflows/s, p50, p99), then batches of 200 runs started at once (workflows/s per batch);
- durable steps/s: runs of 10 trivial steps (a chain, and 10 independent steps), 200 at once,
  on SQLite and on the memory store;
- CPU per step (process CPU time ÷ steps), the memory store isolating the engine;
- RSS every 10 % of 100,000 runs (SQLite, the memory store without and with retention);
- the physical limit of the disk (``physical.py``): synced commits/s of SQLite and PostgreSQL,
  and SQLite's group-commit rows/s, with the ceilings they imply for the two-step workflow.

It prints the tables with rich, the verdict on each target and the Lockgate ÷ Kailash ratios,
writes every number to ``results/latest.json`` and the tables to ``results.md`` beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

from benchmarks.common import lockgate_commit
from benchmarks.functions.machine import busy_percent, cpu_model
from benchmarks.workflows import physical
from benchmarks.workflows.floor import sqlite_two_step_floor
from benchmarks.workflows.kailash_env import KAILASH_VERSION, ensure_kailash_venv
from benchmarks.workflows.report import Results, print_report, targets, to_markdown
from rich.console import Console

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOCKGATE_SIDE = HERE / "lockgate_side.py"
KAILASH_SIDE = HERE / "kailash_side.py"
DEFAULT_DSN = physical.DEFAULT_DSN
BUSY_WARNING = 10.0  # percent
SIDE_TIMEOUT = 3600.0  # seconds; a scenario that takes longer has hung
# Wide enough for the tables when the output is a file or a pipe, not a terminal.
console = Console() if sys.stdout.isatty() else Console(width=150)


@dataclass(frozen=True, slots=True)
class Options:
    sequential: int
    width: int
    batches: int
    steps: int
    rss_runs: int
    rss_every: int
    physical_seconds: float
    dsn: str
    kailash: bool
    postgres: bool
    quick: bool
    output: Path
    json_output: Path

    def as_json(self) -> dict[str, Any]:
        return {
            "sequential": self.sequential,
            "width": self.width,
            "batches": self.batches,
            "steps": self.steps,
            "rss_runs": self.rss_runs,
            "rss_every": self.rss_every,
            "physical_seconds": self.physical_seconds,
            "dsn": self.dsn,
            "kailash": self.kailash,
            "postgres": self.postgres,
            "quick": self.quick,
        }


def _parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run: 300 sequential runs, 3 batches, 10,000 runs for RSS, "
        "1 s per physical measurement (unless given explicitly)",
    )
    parser.add_argument("--sequential", type=int, help="runs one at a time (default 5000)")
    parser.add_argument("--batches", type=int, help="batches of concurrent runs (default 5)")
    parser.add_argument("--width", type=int, default=200, help="runs per batch (default 200)")
    parser.add_argument(
        "--steps", type=int, default=10, help="steps of the steps/s workflows (default 10)"
    )
    parser.add_argument("--rss-runs", type=int, help="runs of the RSS measurement (default 100000)")
    parser.add_argument(
        "--rss-every", type=int, help="runs between RSS samples (default a tenth of --rss-runs)"
    )
    parser.add_argument(
        "--physical-seconds", type=float, help="seconds per physical measurement (default 3)"
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN, help=f"PostgreSQL (default {DEFAULT_DSN})")
    parser.add_argument("--skip-kailash", action="store_true", help="do not run Kailash")
    parser.add_argument("--skip-postgres", action="store_true", help="do not run PostgreSQL")
    parser.add_argument(
        "--output", type=Path, default=HERE / "results.md", help="where the Markdown goes"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=HERE / "results" / "latest.json",
        help="where the JSON goes (default results/latest.json)",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)

    def pick(given: Any, full: Any, short: Any) -> Any:
        return given if given is not None else (short if quick else full)

    rss_runs = int(pick(args.rss_runs, 100_000, 10_000))
    rss_every = int(pick(args.rss_every, max(1, rss_runs // 10), max(1, rss_runs // 10)))
    if min(args.width, args.steps, rss_runs, rss_every) < 1:
        parser.error("--width, --steps, --rss-runs and --rss-every must be positive")
    return Options(
        sequential=int(pick(args.sequential, 5000, 300)),
        width=args.width,
        batches=int(pick(args.batches, 5, 3)),
        steps=args.steps,
        rss_runs=rss_runs,
        rss_every=rss_every,
        physical_seconds=float(pick(args.physical_seconds, 3.0, 1.0)),
        dsn=args.dsn,
        kailash=not args.skip_kailash,
        postgres=not args.skip_postgres,
        quick=quick,
        output=args.output,
        json_output=args.json,
    )


# -- running the sides --------------------------------------------------------------------------


class SideError(RuntimeError):
    """A side process failed; the message ends with its stderr."""


def _side(label: str, argv: list[str], logs: Path) -> dict[str, Any]:
    """Run one scenario in a fresh process and return the JSON object it printed."""
    log = logs / f"{len(list(logs.iterdir())):02d}.log"
    started = time.perf_counter()
    with log.open("w") as stderr:
        done = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=SIDE_TIMEOUT,
            check=False,
            cwd=REPO,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise SideError(f"{label}: exit status {done.returncode}\n{shlex.join(argv)}\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["seconds"] = time.perf_counter() - started
    return result


def _lockgate(
    label: str, store: str, logs: Path, *args: str, schema: str | None = None
) -> dict[str, Any]:
    argv = [sys.executable, str(LOCKGATE_SIDE), "--store", store, *args]
    if schema is not None:
        argv += ["--schema", schema]
    result = _side(label, argv, logs)
    console.print(f"  {label}: {_summary(result)} ({result['seconds']:.1f} s)")
    return result


def _summary(result: dict[str, Any]) -> str:
    parts = []
    if "sequential" in result:
        seq = result["sequential"]
        parts.append(f"sequential {seq['wf_per_s']:,.0f} wf/s, p50 {seq['p50_ms']:.3f} ms")
    if "concurrent" in result:
        con = result["concurrent"]
        batches = " / ".join(f"{b['wf_per_s']:,.0f}" for b in con["batches"])
        parts.append(f"c={con['width']} {batches} wf/s ({con['steps_per_s']:,.0f} steps/s)")
        parts.append(f"CPU {con['cpu_ms_per_step']:.3f} ms/step")
    if "rss" in result:
        rss = result["rss"]
        parts.append("RSS " + ", ".join(f"{mib:.1f}" for _, mib, _ in rss["samples"]) + " MiB")
        parts.append(f"{rss['wf_per_s']:,.0f} wf/s")
    failed = result.get("errors", 0)
    if failed:
        parts.append(f"[red]{failed} failed: {result.get('error_kinds')}[/]")
    return "; ".join(parts)


def _sqlite_url(scratch: Path, name: str) -> str:
    # Lockgate's form: sqlite:/// then the path, so an absolute path gives four slashes.
    return f"sqlite:///{scratch / name}"


def _pure(options: Options, store: str, scratch: Path, logs: Path) -> dict[str, Any]:
    """Sequential and concurrent runs of the two-step workflow, each in its own process."""
    label = {
        "sqlite": "SQLite",
        "sqlite_normal": "SQLite synchronous=NORMAL",
        "memory": "memory",
        "postgres": "PostgreSQL",
    }[store]
    entry: dict[str, Any] = {}
    for phase, args in (
        ("sequential", ["--sequential", str(options.sequential)]),
        ("concurrent", ["--concurrent", str(options.width), "--batches", str(options.batches)]),
    ):
        schema, synchronous = None, "FULL"
        if store.startswith("sqlite"):
            url = _sqlite_url(scratch, f"pure-{store}-{phase}.sqlite3")
            synchronous = "NORMAL" if store == "sqlite_normal" else "FULL"
        elif store == "postgres":
            url, schema = options.dsn, f"lockgate_bench_{uuid.uuid4().hex[:12]}"
        else:
            url = "memory://"
        try:
            result = _lockgate(
                f"Lockgate {label}, two steps, {phase}",
                url,
                logs,
                "--workflow",
                "pure",
                "--synchronous",
                synchronous,
                *args,
                schema=schema,
            )
        finally:
            if schema is not None:  # also when the side was killed before its own clean-up
                asyncio.run(_drop_schema(options.dsn, schema))
        entry["store"] = result["store"]
        entry[phase] = result[phase]
        entry[f"{phase}_max_rss_mib"] = result["max_rss_mib"]
        entry.setdefault("error_kinds", {})[phase] = result["error_kinds"]
    return entry


def _steps(options: Options, scratch: Path, logs: Path) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for shape in ("chain", "fanout"):
        for store in ("sqlite", "memory"):
            url = _sqlite_url(scratch, f"{shape}.sqlite3") if store == "sqlite" else "memory://"
            entries[f"{shape}/{store}"] = _lockgate(
                f"Lockgate {store}, {options.steps}-step {shape}",
                url,
                logs,
                "--workflow",
                shape,
                "--steps",
                str(options.steps),
                "--concurrent",
                str(options.width),
                "--batches",
                str(options.batches),
            )
    return entries


def _rss(options: Options, scratch: Path, logs: Path) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for key, url in (
        ("sqlite", _sqlite_url(scratch, "rss.sqlite3")),
        ("memory+drop", "memory+drop://"),
        ("memory", "memory://"),
    ):
        entries[key] = _lockgate(
            f"Lockgate {key}, RSS over {options.rss_runs:,} runs",
            url,
            logs,
            "--workflow",
            "pure",
            "--rss-runs",
            str(options.rss_runs),
            "--rss-every",
            str(options.rss_every),
            "--width",
            str(options.width),
        )
    return entries


async def _drop_schema(dsn: str, schema: str) -> None:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def _kailash(options: Options, logs: Path) -> dict[str, Any]:
    """Kailash in its own venv: a process for the sequential runs, another for the batches
    (a fresh gateway, since every overlapping batch leaves it slower)."""
    python = str(ensure_kailash_venv())
    side = [python, str(KAILASH_SIDE)]
    seq = _side("Kailash, sequential", [*side, "--sequential", str(options.sequential)], logs)
    console.print(
        f"  Kailash {seq['version']}, sequential: {seq['sequential_wf_per_s']:,.0f} wf/s, "
        f"p50 {seq['sequential_p50_ms']:.3f} ms ({seq['seconds']:.1f} s)"
    )
    con = _side(
        "Kailash, concurrent",
        [*side, "--concurrent", str(options.width), "--batches", str(options.batches)],
        logs,
    )
    rates, failures, walls = (
        con["concurrent_wf_per_s"],
        con["concurrent_errors"],
        con["concurrent_wall_s"],
    )
    console.print(
        f"  Kailash {con['version']}, c={options.width}: "
        + " / ".join(f"{rate:,.0f}" for rate in rates)
        + f" wf/s, failed per batch {failures} ({con['seconds']:.1f} s)"
    )
    ok = [options.width - failed for failed in failures]
    steps = 2
    return {
        "store": "none (enable_durability=True writes no checkpoint)",
        "version": seq["version"],
        "sequential": {
            "runs": options.sequential,
            "failed": seq["errors"],
            "wf_per_s": seq["sequential_wf_per_s"],
            "steps_per_s": seq["sequential_wf_per_s"] * steps,
            "p50_ms": seq["sequential_p50_ms"],
            "p99_ms": seq["sequential_p99_ms"],
            "cpu_ms_per_wf": seq["cpu_ms_per_wf"],
            "cpu_ms_per_step": seq["cpu_ms_per_wf"] / steps,
        },
        "concurrent": {
            "width": options.width,
            "batches": [
                {"wf_per_s": rate, "failed": failed, "wall_s": wall}
                for rate, failed, wall in zip(rates, failures, walls, strict=True)
            ],
            "failed": con["errors"],
            "wf_per_s": sum(ok) / sum(walls),
            "steps_per_s": sum(ok) * steps / sum(walls),
            "cpu_ms_per_wf": con["cpu_ms_per_wf"],
            "cpu_ms_per_step": con["cpu_ms_per_wf"] / steps,
        },
        "error_kinds": {"sequential": seq["error_kinds"], "concurrent": con["error_kinds"]},
        "sequential_max_rss_mib": seq["max_rss_mb"],
        "concurrent_max_rss_mib": con["max_rss_mb"],
    }


# -- the physical limit -------------------------------------------------------------------------


def _physical(options: Options, scratch: Path, postgres: bool) -> dict[str, Any]:
    """One measurement of each limit (files in ``scratch``, on the disk Lockgate uses)."""
    seconds = options.physical_seconds
    single = physical.sqlite_commit_rate(scratch / "physical.sqlite3", seconds)
    console.print(
        f"  SQLite WAL + FULL: {single['commits_per_s']:,.0f} commits/s, "
        f"p50 {single['p50_us']:.0f} µs, p99 {single['p99_us']:.0f} µs"
    )
    group = physical.sqlite_group_commit_rate(scratch / "physical-group.sqlite3", seconds)
    console.print(
        f"  SQLite WAL + FULL, {group['rows_per_commit']} rows per commit: "
        f"{group['rows_per_s']:,.0f} rows/s"
    )
    floor = sqlite_two_step_floor(scratch / "floor.sqlite3", seconds)
    console.print(
        f"  SQLite WAL + FULL, Lockgate's two transactions per run without Lockgate: "
        f"{floor['wf_per_s']:,.0f} runs/s, commit p50 {floor['commit_p50_us']:.0f} µs, "
        f"{floor['wal_frames_per_commit']:.1f} WAL frames per commit"
    )
    result: dict[str, Any] = {
        "sqlite": dict(single),
        "sqlite_group": dict(group),
        "sqlite_floor": dict(floor),
    }
    if postgres:
        rate = asyncio.run(physical.postgres_commit_rate(options.dsn, seconds))
        result["postgres"] = dict(rate)
        console.print(
            f"  PostgreSQL (asyncpg, 1 connection): {rate['commits_per_s']:,.0f} commits/s, "
            f"p50 {rate['p50_us']:.0f} µs, p99 {rate['p99_us']:.0f} µs"
        )
    return result


def _best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per measure, the faster of the runs (the disk's limit is what it can do when nothing
    else is in its way), with every run's rate kept beside it."""
    best: dict[str, Any] = {}
    measures = (("sqlite", "commits_per_s"), ("sqlite_group", "rows_per_s"))
    for key, rate in (*measures, ("sqlite_floor", "wf_per_s")):
        best[key] = {**max((run[key] for run in runs), key=lambda r: r[rate])}
        best[key]["runs"] = [run[key][rate] for run in runs]
    if all("postgres" in run for run in runs):
        best["postgres"] = {
            **max((run["postgres"] for run in runs), key=lambda r: r["commits_per_s"])
        }
        best["postgres"]["runs"] = [run["postgres"]["commits_per_s"] for run in runs]
    return best


def _postgres_problem(options: Options) -> tuple[str | None, dict[str, str]]:
    """Why the PostgreSQL part cannot run (None when it can), and the server's settings."""
    if not options.postgres:
        return "--skip-postgres", {}
    if importlib.util.find_spec("lockgate.gateways.stores.runs.postgres") is None:
        return "src/lockgate/gateways/stores/runs/postgres.py does not exist yet", {}
    try:
        return None, asyncio.run(physical.postgres_settings(options.dsn))
    except (ImportError, OSError) as error:
        return f"no PostgreSQL at {options.dsn} ({type(error).__name__}: {error})", {}


# -- the machine --------------------------------------------------------------------------------


def _filesystem(path: Path) -> str:
    """The device and type of the filesystem holding ``path``, from /proc/self/mounts."""
    best = ("", "unknown", "unknown")
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            inside = str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount
            if inside and len(mount) >= len(best[0]):
                best = (mount, device, kind)
    return f"{best[2]} on {best[1]} (mounted at {best[0]})"


def _machine(busy: float, scratch: Path, postgres: dict[str, str]) -> dict[str, str]:
    virtual = " hypervisor" in Path("/proc/cpuinfo").read_text()
    machine = {
        "cores": f"{os.cpu_count()} (nproc), CPU model name: {cpu_model()}"
        + (", a virtual machine (hypervisor flag set)" if virtual else ""),
        "kernel": platform.release(),
        "python": f"{platform.python_version()}, stock asyncio event loop",
        "SQLite": f"{sqlite3.sqlite_version}, files on {_filesystem(scratch)}",
        "lockgate commit": lockgate_commit(),
        "machine busy before the run": f"{busy:.0f}% of all cores (1 s sample)",
    }
    if postgres:
        machine["PostgreSQL"] = ", ".join(f"{key} {value}" for key, value in postgres.items())
    return machine


# -- the run ------------------------------------------------------------------------------------


def _run(options: Options, command: str) -> Results:
    notes: list[str] = []
    busy = busy_percent()
    if busy > BUSY_WARNING:
        notes.append(
            f"The machine was {busy:.0f}% busy before the run started: other processes "
            f"competed for the {os.cpu_count()} cores, so these numbers are pessimistic."
        )
        console.print(f"[bold yellow]warning:[/] {notes[-1]}")
    skip_postgres, postgres_settings = _postgres_problem(options)
    if skip_postgres is not None and options.postgres:
        console.print(f"[bold yellow]PostgreSQL skipped:[/] {skip_postgres}")
    machine = _machine(busy, HERE, postgres_settings)  # the commit as the run starts
    # The SQLite files go on the disk whose limit is measured: a tmpfs would sync nothing.
    with tempfile.TemporaryDirectory(dir=HERE, prefix=".scratch-") as tmp:
        scratch = Path(tmp)
        logs = scratch / "logs"
        logs.mkdir()
        console.rule("physical limit: synced commits on this disk (before)")
        physical_runs = [_physical(options, scratch, skip_postgres is None)]
        console.rule("Lockgate: the two-step workflow")
        pure: dict[str, Any] = {"sqlite": _pure(options, "sqlite", scratch, logs)}
        pure["postgres"] = (
            _pure(options, "postgres", scratch, logs)
            if skip_postgres is None
            else {"skipped": skip_postgres}
        )
        pure["sqlite_normal"] = _pure(options, "sqlite_normal", scratch, logs)
        pure["memory"] = _pure(options, "memory", scratch, logs)
        console.rule(f"Lockgate: {options.steps}-step workflows, {options.width} at once")
        steps = _steps(options, scratch, logs)
        console.rule(f"Lockgate: RSS across {options.rss_runs:,} runs")
        rss = _rss(options, scratch, logs)
        console.rule("physical limit: synced commits on this disk (after)")
        physical_runs.append(_physical(options, scratch, skip_postgres is None))
        physical_limit = _best_of(physical_runs)
        if skip_postgres is not None:
            physical_limit["postgres"] = {"skipped": skip_postgres}
        if options.kailash:
            console.rule(f"Kailash {KAILASH_VERSION} (no durability)")
            pure["kailash"] = _kailash(options, logs)
        else:
            pure["kailash"] = {"skipped": "--skip-kailash"}
    results: Results = {
        "command": command,
        "machine": machine,
        "options": options.as_json(),
        "physical": physical_limit,
        "pure": pure,
        "steps": steps,
        "rss": rss,
        "notes": notes + _failure_notes(pure, steps, rss),
    }
    results["targets"] = [verdict.as_json() for verdict in targets(results)]
    return results


def _failure_notes(pure: dict[str, Any], steps: dict[str, Any], rss: dict[str, Any]) -> list[str]:
    """A note for every setup in which some run failed or returned a wrong result."""
    notes = []
    for name, entry in [*pure.items(), *steps.items(), *rss.items()]:
        kinds = entry.get("error_kinds", {})
        if any(kinds.values()):  # by phase for the two-step setups, by kind for the others
            notes.append(f"{name}: some runs failed or were wrong, {kinds}")
    return notes


def _write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")  # ignored by git; renamed in one step when complete
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(path)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP all unwind through the clean-up (subprocess.run kills the
    scenario it was waiting for, the scratch directory is removed, schemas are dropped)."""
    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, _interrupt) for signum in caught}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(argv)
    command = shlex.join(["python", "benchmarks/workflows/run.py", *(argv or sys.argv[1:])])
    started = time.perf_counter()
    try:
        with _signals_as_interrupt():
            results = _run(options, command)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]: every process started was stopped")
        return 130
    except SideError as error:
        console.print(f"[bold red]a scenario failed[/]: {error}")
        return 1
    results["seconds"] = time.perf_counter() - started
    print_report(results, console)
    _write_json(results, options.json_output)
    options.output.write_text(to_markdown(results))
    console.print(
        f"Markdown written to {options.output}, JSON to {options.json_output} "
        f"({results['seconds']:.0f} s in all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
