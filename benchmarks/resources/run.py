"""Lockgate's resources benchmark (issue 4), beside Kailash 2.65's secret reads.

Run from the repository root with the project's interpreter::

    .venv/bin/python benchmarks/resources/run.py [--quick] [--skip-kailash] [--skip-postgres]

Each scenario runs in a fresh process and prints JSON (``lockgate_side.py``; the peer's
``kailash_side.py`` under the venv ``benchmarks/workflows/kailash_env.py`` makes):

1. resolving a resource that is already pooled: ``"@main_db"`` and an inline reference;
2. ``SecretManager.get_secret``: cached, and uncached on SQLite, PostgreSQL and memory;
   Kailash's ``SecretManager`` (PBKDF2 on every uncached read) beside it;
3. the PostgreSQL sessions 1,000 concurrent runs on one database reference open.

It prints the tables with rich, the verdict on each target and the Kailash ÷ Lockgate
ratios, and writes every number to ``results/latest.json`` and the tables to ``results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

from benchmarks.common import drop_schema, finish, parse_sized, preflight, run_parser, unique_name
from benchmarks.resources.report import REPORT, Results, targets
from benchmarks.workflows.kailash_env import DEFAULT_VENV, KAILASH_VERSION, ensure_kailash_venv
from rich.console import Console

HERE = Path(__file__).resolve().parent
POSTGRES_PART = "PostgreSQL parts"  # what --skip-postgres leaves out
REPO = HERE.parents[1]
SIDE_TIMEOUT = 600.0  # seconds; a scenario that takes longer has hung
console = Console() if sys.stdout.isatty() else Console(width=150)


class SideError(RuntimeError):
    """A scenario's process failed; the message ends with its stderr."""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = run_parser(__doc__, HERE, quick_s=30, postgres_part=POSTGRES_PART)
    parser.add_argument("--iterations", type=int, help="resolves per case (100,000; quick 20,000)")
    parser.add_argument("--cached-reads", type=int, help="cached reads (100,000; quick 20,000)")
    parser.add_argument("--uncached-reads", type=int, help="per store (5,000; quick 500)")
    parser.add_argument("--kailash-reads", type=int, help="Kailash uncached reads (50; quick 5)")
    parser.add_argument("--runs", type=int, default=1_000, help="concurrent runs per round")
    parser.add_argument("--rounds", type=int, help="rounds of concurrent runs (5; quick 2)")
    parser.add_argument("--max-size", type=int, default=10, help="the reference's max_size")
    parser.add_argument("--sleep", type=float, default=0.005, help="pg_sleep per run (s)")
    parser.add_argument("--skip-kailash", action="store_true", help="do not run Kailash")
    parser.add_argument(
        "--kailash-venv", type=Path, default=DEFAULT_VENV, help="the peer's venv (made if needed)"
    )
    sizes = {
        "iterations": (100_000, 20_000),
        "cached_reads": (100_000, 20_000),
        "uncached_reads": (5_000, 500),
        "kailash_reads": (50, 5),
        "rounds": (5, 2),
    }
    return parse_sized(parser, argv, sizes)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "quick", "iterations", "batch", "cached_reads", "uncached_reads", "kailash_reads",
        "runs", "rounds", "max_size", "sleep", "dsn", "skip_kailash", "skip_postgres",
    )  # fmt: skip
    return {key: getattr(args, key) for key in keys}


def _side(label: str, argv: list[str]) -> dict[str, Any]:
    """Run one scenario in a fresh process; the JSON object it printed last."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=SIDE_TIMEOUT, check=False, cwd=REPO
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.splitlines()[-25:])
        raise SideError(f"{label}: exit status {done.returncode}\n{shlex.join(argv)}\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["seconds"] = time.perf_counter() - started
    console.print(f"  {label}: done in {result['seconds']:.1f} s")
    return result


def _lockgate(args: argparse.Namespace, postgres: bool, *extra: str) -> list[str]:
    argv = [sys.executable, str(HERE / "lockgate_side.py"), *extra, "--dsn", args.dsn]
    argv += ["--batch", str(args.batch)]
    return argv if postgres else [*argv, "--no-postgres"]


def _secrets(args: argparse.Namespace, postgres: bool) -> dict[str, Any]:
    extra = ["--cached-reads", str(args.cached_reads), "--uncached-reads", str(args.uncached_reads)]
    schema = unique_name("lockgate_bench_secrets") if postgres else None
    try:
        argv = _lockgate(args, postgres, "secrets", *extra)
        if schema is not None:
            argv += ["--schema", schema]
        return _side("Lockgate secret reads", argv)
    finally:
        if schema is not None:  # also when the side was killed before its own clean-up
            asyncio.run(drop_schema(args.dsn, schema))


def _kailash(args: argparse.Namespace) -> dict[str, Any]:
    if args.skip_kailash:
        return {"skipped": "--skip-kailash"}
    try:
        python = ensure_kailash_venv(args.kailash_venv)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        reason = f"its venv could not be made ({type(error).__name__}: {error})"
        console.print(f"[bold yellow]Kailash skipped:[/] {reason}")
        return {"skipped": reason}
    reads = args.kailash_reads
    argv = [str(python), str(HERE / "kailash_side.py"), "--reads", str(reads)]
    argv += ["--file-reads", str(max(1, reads // 2)), "--cached-reads", str(args.cached_reads)]
    return _side(f"Kailash {KAILASH_VERSION} secret reads", [*argv, "--batch", str(args.batch)])


def _concurrency(args: argparse.Namespace, skip: str | None) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for variant in ("inline", "shared"):
        if skip is not None:
            entries[variant] = {"skipped": skip}
            continue
        extra = ["--runs", str(args.runs), "--rounds", str(args.rounds), "--variant", variant]
        extra += ["--max-size", str(args.max_size), "--sleep", str(args.sleep)]
        entries[variant] = _side(
            f"Lockgate, {args.runs:,} concurrent runs, {variant} reference",
            _lockgate(args, True, "concurrency", *extra),
        )
    return entries


def _run(args: argparse.Namespace, command: str) -> Results:
    start = preflight(args, POSTGRES_PART, console)
    notes, skip_postgres = start.notes, start.postgres_skipped
    postgres = skip_postgres is None
    results: Results = {"command": command, "machine": start.machine, "options": _options(args)}
    console.rule("1. resolving a pooled resource")
    results["resolve"] = _side(
        "Lockgate resolve",
        _lockgate(args, postgres, "resolve", "--iterations", str(args.iterations)),
    )
    if not postgres:
        notes.append("Resolve used the SQLite driver (the path is the same past the pool).")
    console.rule("2. secret reads")
    results["secrets"] = _secrets(args, postgres)
    results["kailash"] = _kailash(args)
    if "skipped" in results["kailash"]:
        notes.append(f"Kailash skipped: {results['kailash']['skipped']}")
    console.rule(f"3. {args.runs:,} concurrent runs on one database reference")
    results["concurrency"] = _concurrency(args, skip_postgres)
    results["notes"] = notes + _failure_notes(results["concurrency"])
    results["targets"] = [verdict.as_json() for verdict in targets(results)]
    return results


def _failure_notes(concurrency: dict[str, Any]) -> list[str]:
    notes = []
    for variant, entry in concurrency.items():
        for index, measured in enumerate(entry.get("rounds", []), 1):
            if measured["failed"]:
                failed, errors = measured["failed"], measured["errors"]
                notes.append(f"{variant} round {index}: {failed} runs failed: {errors}")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    command = shlex.join(["python", "benchmarks/resources/run.py", *(argv or sys.argv[1:])])
    started = time.perf_counter()
    try:
        results = _run(args, command)
    except SideError as error:
        console.print(f"[bold red]a scenario failed[/]: {error}")
        return 1
    finish(results, started, REPORT, (args.output, args.json), console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
