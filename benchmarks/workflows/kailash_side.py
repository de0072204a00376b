"""The peer's half of the workflow benchmark: Kailash's EnhancedDurableAPIGateway, in process.

Runs under the venv that ``kailash_env.py`` makes, so it imports only the standard library
and kailash (never lockgate). The workflow is the two-step pure-compute one: step1 doubles
``values``, step2 sums them; with ``values=[1, 2, 3]`` a correct run totals 12.

    python kailash_side.py --sequential 2000
    python kailash_side.py --concurrent 200 --batches 3

Prints one JSON object on stdout; everything else (Kailash's warnings) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import sys
import time
from collections import Counter
from typing import Any

from kailash import __version__ as kailash_version  # type: ignore[import-not-found]
from kailash.gateway import (  # type: ignore[import-not-found]
    EnhancedDurableAPIGateway,
    WorkflowRequest,
)
from kailash.workflow import AsyncWorkflowBuilder  # type: ignore[import-not-found]

WORKFLOW_ID = "pure"
VALUES = [1, 2, 3]
EXPECTED_TOTAL = 12
WARM_UP_RUNS = 20  # the first execution alone costs 8-18 ms (lazy imports, runtime set-up)

STEP1 = """
import asyncio
await asyncio.sleep(0)
result = {"doubled": [v * 2 for v in values]}
"""
STEP2 = "result = {'total': sum(doubled), 'n': len(doubled)}"


def build_workflow() -> Any:
    builder = AsyncWorkflowBuilder("pure_compute")
    builder.add_async_code("step1", STEP1)
    builder.add_async_code("step2", STEP2)
    builder.add_connection("step1", "result.doubled", "step2", "doubled")
    return builder.build()


def node_results(result: Any) -> dict[str, Any]:
    """The per-node results, from either shape ``WorkflowResponse.result`` takes."""
    # 2.65 returns the runtime's (node_results, run_id) tuple; the documented shape is a dict.
    if isinstance(result, tuple | list) and result and isinstance(result[0], dict):
        return result[0]
    if isinstance(result, dict):
        inner = result.get("results", result)
        return inner if isinstance(inner, dict) else {}
    return {}


def failure(response: Any) -> str | None:
    """Why a run that returned went wrong, or None if it completed with the right total."""
    if response.status != "completed":
        return f"status {response.status}"
    step2 = node_results(response.result).get("step2", {})
    output = step2.get("result", step2) if isinstance(step2, dict) else {}
    if not isinstance(output, dict) or output.get("total") != EXPECTED_TOTAL:
        return "wrong total"
    return None


async def run_once(gateway: Any) -> float | str:
    """Milliseconds one run took, or why it failed, raised or returned a wrong total."""
    start = time.perf_counter()
    try:
        response = await gateway.execute_workflow(
            WORKFLOW_ID, WorkflowRequest(inputs={"values": VALUES})
        )
    except Exception as error:  # RecursionError escapes the gateway's own handler
        return type(error).__name__
    elapsed_ms = (time.perf_counter() - start) * 1000
    return failure(response) or elapsed_ms


async def sequential(gateway: Any, runs: int, errors: Counter[str]) -> tuple[float, float, float]:
    """(correct workflows/s, p50 ms, p99 ms) of ``runs`` runs one at a time; failures go to
    ``errors``."""
    latencies: list[float] = []
    start = time.perf_counter()
    for _ in range(runs):
        outcome = await run_once(gateway)
        if isinstance(outcome, str):
            errors[outcome] += 1
        else:
            latencies.append(outcome)
    wall = time.perf_counter() - start
    p50 = statistics.median(latencies) if latencies else float("nan")
    ordered = sorted(latencies)
    p99 = ordered[round(0.99 * (len(ordered) - 1))] if ordered else float("nan")
    return len(latencies) / wall, p50, p99  # only correct runs count towards the rate


async def concurrent(
    gateway: Any, width: int, batches: int, errors: Counter[str]
) -> tuple[list[float], list[int], list[float]]:
    """(correct workflows/s, failures, seconds) of each of ``batches`` gathers of ``width``
    runs."""
    # One process and gateway throughout: Kailash stacks a process-wide asyncio.create_task
    # wrapper per overlapping node, so each batch runs slower than the one before.
    rates: list[float] = []
    failures: list[int] = []
    walls: list[float] = []
    for _ in range(batches):
        start = time.perf_counter()
        outcomes = await asyncio.gather(*(run_once(gateway) for _ in range(width)))
        wall = time.perf_counter() - start
        failed = [outcome for outcome in outcomes if isinstance(outcome, str)]
        # Only correct runs count: the failing ones raise early and would flatter the rate.
        rates.append((width - len(failed)) / wall)
        errors.update(failed)
        failures.append(len(failed))
        walls.append(wall)
    return rates, failures, walls


async def main(args: argparse.Namespace) -> dict[str, Any]:
    # Built inside the running loop: its deduplicator calls asyncio.create_task on construction.
    gateway = EnhancedDurableAPIGateway(require_auth=False, enable_durability=True)
    gateway.register_workflow(WORKFLOW_ID, build_workflow())
    errors: Counter[str] = Counter()
    report: dict[str, Any] = {
        "sequential_wf_per_s": None,
        "sequential_p50_ms": None,
        "sequential_p99_ms": None,
        "concurrent_wf_per_s": [],
        "concurrent_errors": [],
        "concurrent_wall_s": [],
    }
    try:
        for _ in range(WARM_UP_RUNS):
            outcome = await run_once(gateway)
            if isinstance(outcome, str):
                errors[outcome] += 1
        measured = 0
        cpu0 = time.process_time()
        if args.sequential:
            rate, p50, p99 = await sequential(gateway, args.sequential, errors)
            report.update(sequential_wf_per_s=rate, sequential_p50_ms=p50, sequential_p99_ms=p99)
            measured += args.sequential
        if args.concurrent:
            rates, failures, walls = await concurrent(
                gateway, args.concurrent, args.batches, errors
            )
            report.update(
                concurrent_wf_per_s=rates, concurrent_errors=failures, concurrent_wall_s=walls
            )
            measured += args.concurrent * args.batches
        cpu_s = time.process_time() - cpu0
    finally:
        await gateway.shutdown()
    report["errors"] = errors.total()
    report["error_kinds"] = dict(errors)
    report["runs"] = measured
    report["cpu_ms_per_wf"] = cpu_s * 1000 / max(1, measured)
    # ru_maxrss is in KiB on Linux.
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["version"] = kailash_version
    return report


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sequential", type=int, default=0, metavar="N", help="runs, one at a time"
    )
    parser.add_argument("--concurrent", type=int, default=0, metavar="C", help="runs per batch")
    parser.add_argument("--batches", type=int, default=1, metavar="B", help="batches of C runs")
    args = parser.parse_args()
    if not args.sequential and not args.concurrent:
        parser.error("give --sequential N and/or --concurrent C [--batches B]")
    return args


if __name__ == "__main__":
    args = parse_args()
    # Keep stdout for the JSON alone: whatever Kailash prints or logs lands on stderr instead.
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Kailash sets INFO on its own loggers; formatting those per run would cost CPU we measure.
    logging.disable(logging.INFO)
    result = asyncio.run(main(args))
    stdout.write(json.dumps(result) + "\n")
    stdout.flush()
