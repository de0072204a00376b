"""Lockgate's modules benchmark (issue 5): discovery, guarded calls and event delivery.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/modules/run.py [--quick] [--skip-postgres]

In one process, on the seed's example modules (``examples/hello/aura``):

1. a cached ``get_module_service`` beside the reference it stands for (a local variable, a
   dict), on the registry and through ``lockgate.modules.gateway``;
2. ``inter_module_call`` beside the bound-method call it wraps, likewise;
3. event delivery, publish → handler entered, one event at a time, and the throughput of
   many events published at once: without a store, and durable on the in-memory, SQLite
   and PostgreSQL event stores; beside it, one ``fsync`` of the SQLite file's disk.

It prints the tables with rich and the verdict on each target, and writes every number to
``results/latest.json`` and the tables to ``results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

from benchmarks.common import drop_schema, finish, parse_sized, preflight, run_parser, unique_name
from benchmarks.modules.calls import measure_calls
from benchmarks.modules.events import fsync_floor, measure_events
from benchmarks.modules.report import REPORT, Results, targets
from rich.console import Console

HERE = Path(__file__).resolve().parent
POSTGRES_PART = "PostgreSQL store"  # what --skip-postgres leaves out
console = Console() if sys.stdout.isatty() else Console(width=150)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = run_parser(__doc__, HERE, quick_s=20, postgres_part=POSTGRES_PART)
    parser.add_argument("--rounds", type=int, help="batches per lookup/call case (1,000; 150)")
    parser.add_argument("--latency-events", type=int, help="per bus (2,000; quick 300)")
    parser.add_argument("--throughput-events", type=int, help="per bus (10,000; quick 2,000)")
    parser.add_argument("--warm-up", type=int, default=50, help="untimed events per bus first")
    parser.add_argument("--fsyncs", type=int, help="timed syncs of the disk (500; quick 100)")
    sizes = {
        "rounds": (1_000, 150),
        "latency_events": (2_000, 300),
        "throughput_events": (10_000, 2_000),
        "fsyncs": (500, 100),
    }
    args = parse_sized(parser, argv, sizes)
    for name in ("rounds", "batch", "latency_events", "throughput_events", "fsyncs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def _options(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("quick", "rounds", "batch", "latency_events", "throughput_events", "warm_up",
            "fsyncs", "dsn", "skip_postgres")  # fmt: skip
    return {key: getattr(args, key) for key in keys}


def _events(args: argparse.Namespace, postgres: bool, results: Results) -> None:
    with tempfile.TemporaryDirectory(prefix="lockgate-modules-") as tmp:
        scratch = Path(tmp)
        results["fsync"] = fsync_floor(scratch, args.fsyncs)
        schema = unique_name("lockgate_bench_events") if postgres else None
        try:
            results["events"] = asyncio.run(
                measure_events(
                    scratch,
                    args.dsn if postgres else None,
                    schema,
                    latency_events=args.latency_events,
                    throughput_events=args.throughput_events,
                    warm_up=args.warm_up,
                )
            )
        finally:
            if schema is not None:
                asyncio.run(drop_schema(args.dsn, schema))
    for store, entry in results["events"].items():
        console.print(f"  {store}: done in {entry['seconds']:.1f} s")


def _run(args: argparse.Namespace, command: str) -> Results:
    start = preflight(args, POSTGRES_PART, console)
    results: Results = {
        "command": command,
        "machine": start.machine,
        "options": _options(args),
        "notes": start.notes,
    }
    console.rule("1-2. get_module_service and inter_module_call beside direct references")
    started = time.perf_counter()
    results["calls"] = measure_calls(args.rounds, args.batch)
    console.print(f"  done in {time.perf_counter() - started:.1f} s")
    console.rule("3. event delivery")
    _events(args, start.postgres_skipped is None, results)
    results["targets"] = [verdict.as_json() for verdict in targets(results)]
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    command = shlex.join(["python", "benchmarks/modules/run.py", *(argv or sys.argv[1:])])
    started = time.perf_counter()
    results = _run(args, command)
    finish(results, started, REPORT, (args.output, args.json), console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
