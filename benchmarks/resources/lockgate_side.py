"""Lockgate's half of the resources benchmark: one scenario per process, one JSON line out.

    python benchmarks/resources/lockgate_side.py resolve --iterations 100000
    python benchmarks/resources/lockgate_side.py secrets --dsn postgresql://... --schema s
    python benchmarks/resources/lockgate_side.py concurrency --runs 1000 --variant inline

``run.py`` starts it under the project's interpreter and reads the last line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

from benchmarks.common import DEFAULT_DSN
from benchmarks.resources.concurrency import measure_concurrency
from benchmarks.resources.resolve import measure_resolve
from benchmarks.resources.secret_reads import measure_secrets


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("scenario", choices=("resolve", "secrets", "concurrency"))
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="PostgreSQL server")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite/memory only")
    parser.add_argument("--iterations", type=int, default=100_000, help="resolves per case")
    parser.add_argument("--batch", type=int, default=1_000, help="operations per timed batch")
    parser.add_argument("--cached-reads", type=int, default=100_000)
    parser.add_argument("--uncached-reads", type=int, default=2_000)
    parser.add_argument("--schema", help="the new schema of the PostgreSQL secret store")
    parser.add_argument("--runs", type=int, default=1_000, help="concurrent runs per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-size", type=int, default=10)
    parser.add_argument("--sleep", type=float, default=0.005, help="pg_sleep per run (s)")
    parser.add_argument("--variant", choices=("inline", "shared"), default="inline")
    parser.add_argument("--interval", type=float, default=0.002, help="seconds between counts")
    return parser.parse_args(argv)


async def _scenario(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    dsn = None if args.no_postgres else args.dsn
    if args.scenario == "resolve":
        return await measure_resolve(dsn, scratch, args.iterations, args.batch)
    if args.scenario == "secrets":
        return await measure_secrets(
            scratch,
            dsn,
            args.schema,
            cached_reads=args.cached_reads,
            uncached_reads=args.uncached_reads,
            batch_size=args.batch,
        )
    return await measure_concurrency(
        args.dsn,
        runs=args.runs,
        rounds=args.rounds,
        max_size=args.max_size,
        sleep=args.sleep,
        variant=args.variant,
        interval=args.interval,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="lockgate-resources-") as tmp:
        result = asyncio.run(_scenario(args, Path(tmp)))
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
