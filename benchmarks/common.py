"""What the resources and modules benchmarks both start from and end with: their options, the
PostgreSQL server (probed, its schemas named and dropped), the machine the numbers were
measured on and how busy it already was, timing summaries, and writing the results (the
workflows benchmark takes the commit measured from here too).

They live here, public, so that each benchmark imports them instead of copying them or
reaching into another benchmark's private names."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from benchmarks.functions.machine import busy_percent, cpu_model, first_line

if TYPE_CHECKING:  # not imported at run time: the benchmarks' side processes stay lean
    from benchmarks.tables import Report
    from rich.console import Console

__all__ = [
    "BUSY_WARNING",
    "DEFAULT_DSN",
    "Preflight",
    "drop_schema",
    "finish",
    "lockgate_commit",
    "machine_facts",
    "parse_sized",
    "percentile",
    "postgres_version",
    "preflight",
    "redacted",
    "run_parser",
    "summary_us",
    "unique_name",
]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BUSY_WARNING = 10.0  # percent of all cores busy before a run that earns a note


def unique_name(prefix: str) -> str:
    """``prefix`` and 10 random hex digits: an application_name or schema no other run uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def redacted(dsn: str) -> str:
    """``dsn`` without a password (if it has one)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def postgres_version(dsn: str, *, skip: bool) -> tuple[str | None, str]:
    """Why PostgreSQL cannot be used (None when it can), and the server's version.

    Args:
        dsn: The server to probe (one connection, closed at once).
        skip: The user asked for no PostgreSQL (``--skip-postgres``).
    """
    if skip:
        return "--skip-postgres", ""

    async def probe() -> str:
        import asyncpg  # noqa: PLC0415

        connection = await asyncpg.connect(dsn, timeout=5)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        return None, asyncio.run(probe())
    except (OSError, ImportError) as error:  # asyncpg's errors on connect are OSErrors too
        return f"no PostgreSQL at {redacted(dsn)} ({type(error).__name__}: {error})", ""
    except Exception as error:  # e.g. the server refused the login
        return f"PostgreSQL at {redacted(dsn)} refused ({type(error).__name__}: {error})", ""


async def drop_schema(dsn: str, schema: str) -> None:
    """Drop a schema a PostgreSQL case made (also after a side that was killed).

    Side Effects:
        ``DROP SCHEMA ... CASCADE`` on the server ``dsn`` names.
    """
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def lockgate_commit() -> str:
    """HEAD, and whether src/ differs from it (then the working tree is what was measured)."""
    head = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        status = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if status.stdout.strip():
            return f"{head} with uncommitted changes in src/ (the working tree was measured)"
    return head


def machine_facts(busy: float, postgres: str, dsn: str) -> dict[str, str]:
    """The report's header: cores, versions, the commit measured and how busy the machine was.

    Args:
        busy: Percent of all cores busy before the run.
        postgres: The server's version, or "" when it was not used.
        dsn: The server's DSN (shown without its password).
    """
    virtual = " hypervisor" in Path("/proc/cpuinfo").read_text()
    return {
        "cores": f"{os.cpu_count()} (nproc), CPU model name: {cpu_model()}"
        + (", a virtual machine (hypervisor flag set)" if virtual else ""),
        "kernel": platform.release(),
        "python": f"{platform.python_version()}, stock asyncio event loop",
        "SQLite": f"{sqlite3.sqlite_version}, files in {tempfile.gettempdir()}",
        "PostgreSQL": f"{postgres} at {redacted(dsn)}" if postgres else "not used",
        "lockgate commit": lockgate_commit(),
        "machine busy before the run": f"{busy:.0f}% of all cores (1 s sample)",
    }


@dataclass(frozen=True, slots=True)
class Preflight:
    """What a run found before measuring anything."""

    notes: list[str]
    """Notes for the report (a busy machine, PostgreSQL left out); the run may add more."""
    postgres_skipped: str | None
    """Why PostgreSQL is left out, or None when it is used."""
    machine: dict[str, str]
    """:func:`machine_facts` of this run."""


def preflight(args: argparse.Namespace, postgres_part: str, console: Console) -> Preflight:
    """How busy the machine is (1 s) and whether PostgreSQL answers, each noted and printed.

    Args:
        args: The parsed options of a :func:`run_parser` (``dsn``, ``skip_postgres``).
        postgres_part: What is left out without PostgreSQL, for the note ("PostgreSQL parts").
        console: Where the warnings are printed.
    """
    notes: list[str] = []
    busy = busy_percent()
    if busy > BUSY_WARNING:
        notes.append(f"The machine was {busy:.0f}% busy before the run: numbers are pessimistic.")
        console.print(f"[bold yellow]warning:[/] {notes[-1]}")
    skipped, version = postgres_version(args.dsn, skip=args.skip_postgres)
    if skipped is not None:
        notes.append(f"{postgres_part} skipped: {skipped}")
        console.print(f"[bold yellow]PostgreSQL skipped:[/] {skipped}")
    return Preflight(notes, skipped, machine_facts(busy, version, args.dsn))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.5 is the median)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def summary_us(values_us: Sequence[float]) -> dict[str, Any]:
    """Median, p90, p99, min and max of microsecond figures, and how many there were."""
    return {
        "median_us": percentile(values_us, 0.5),
        "p90_us": percentile(values_us, 0.9),
        "p99_us": percentile(values_us, 0.99),
        "min_us": min(values_us, default=math.nan),
        "max_us": max(values_us, default=math.nan),
        "samples": len(values_us),
    }


def run_parser(
    doc: str | None, here: Path, *, quick_s: int, postgres_part: str
) -> argparse.ArgumentParser:
    """A parser with the options every such benchmark takes: ``--quick``, ``--batch``, the
    PostgreSQL server and leaving it out, and where the results go (``here``/results.md and
    ``here``/results/latest.json by default); the benchmark adds its own.

    Args:
        doc: The script's docstring (its first line describes the command).
        here: The benchmark's folder.
        quick_s: How many seconds the smoke run (``--quick``) takes at most, for its help.
        postgres_part: What ``--skip-postgres`` leaves out, for its help.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=f"a smoke run of under {quick_s} s")
    parser.add_argument("--batch", type=int, default=1_000, help="operations per timed batch")
    parser.add_argument("--dsn", default=DEFAULT_DSN, help=f"PostgreSQL (default {DEFAULT_DSN})")
    parser.add_argument("--skip-postgres", action="store_true", help=f"no {postgres_part}")
    parser.add_argument("--output", type=Path, default=here / "results.md")
    parser.add_argument("--json", type=Path, default=here / "results" / "latest.json")
    return parser


def parse_sized(
    parser: argparse.ArgumentParser, argv: list[str] | None, sizes: dict[str, tuple[int, int]]
) -> argparse.Namespace:
    """``argv`` parsed; each of ``sizes`` not given gets its (full run, ``--quick``) value."""
    args = parser.parse_args(argv)
    for name, (full, short) in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, short if args.quick else full)
    return args


def finish(
    results: dict[str, Any],
    started: float,
    report: Report,
    paths: tuple[Path, Path],
    console: Console,
) -> None:
    """Close a run: its seconds, the report printed, every number written.

    Args:
        results: The run's JSON; its ``seconds`` are set.
        started: ``time.perf_counter()`` when the run began.
        report: How its results are shown.
        paths: The Markdown report's path, then the JSON's.
        console: Where the report is printed.

    Side Effects:
        Writes both files (and the JSON's folder if missing), the JSON replaced in one step
        once complete.
    """
    markdown_path, json_path = paths
    results["seconds"] = time.perf_counter() - started
    report.print(results, console)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    partial = json_path.with_suffix(".tmp")  # ignored by git; renamed in one step when complete
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(json_path)
    markdown_path.write_text(report.markdown(results))
    console.print(
        f"Markdown written to {markdown_path}, JSON to {json_path} "
        f"({results['seconds']:.0f} s in all)"
    )
