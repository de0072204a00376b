"""Target 3: the connections 1,000 concurrent workflow runs open when they all use the same
database reference (``max_size`` 10).

The gateway is built by ``lockgate.bootstrap.build`` (with its own resolvers) on the memory
run store, its secrets a ``SecretManager`` over the in-memory store. Each run's one step
resolves ``db``, acquires a connection and runs ``SELECT pg_sleep(sleep)``. All runs start
at once with ``asyncio.gather``, round after round: the first round also creates the pool
(one creation however many runs ask at once), the next ones find it. A
``ConnectionSampler`` counts the server's sessions with the reference's unique
``application_name`` throughout.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, Literal

from benchmarks.common import unique_name
from benchmarks.resources.common import (
    ANY_ADDRESS,
    CREDENTIALS_SECRET,
    memory_secrets,
    postgres_config,
)
from benchmarks.resources.sampler import ConnectionSampler

from lockgate.bootstrap import Application, build
from lockgate.config.settings import Settings
from lockgate.models.resource import ResourceReference
from lockgate.models.run import RunStatus, WorkflowRequest
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder

__all__ = ["measure_concurrency"]

Variant = Literal["inline", "shared"]

STEP = """
db = await get_resource("db")
async with db.acquire() as connection:
    await connection.execute("SELECT pg_sleep($1)", sleep)
result = {"ok": True}
"""
SETTLE = 2.0  # seconds allowed for the pool's sessions to end after the gateway stops


async def measure_concurrency(
    dsn: str,
    *,
    runs: int,
    rounds: int,
    max_size: int,
    sleep: float,
    variant: Variant,
    interval: float,
) -> dict[str, Any]:
    """Peak sessions, wall time and runs/s of each round of ``runs`` concurrent runs.

    Args:
        variant: ``inline``: every request carries the same ``ResourceReference`` (its
            JSON form); ``shared``: the reference is registered as ``main_db`` and every
            request names ``"@main_db"``.
    """
    name = unique_name("lg_concurrency")
    config = postgres_config(dsn, max_size=max_size, application_name=name)
    reference = ResourceReference("database", config, CREDENTIALS_SECRET)
    # The operator turns inline references on, lets them reach the benchmark's server
    # wherever the DSN points (every address listed), and lets them name this secret.
    settings = Settings(
        run_store="memory://",
        allow_inline_resources=True,
        inline_allowed_hosts=ANY_ADDRESS,
        inline_credentials=[CREDENTIALS_SECRET],
    )
    app = build(settings, secret_manager=await memory_secrets(dsn))
    resources: dict[str, Any] = {"db": reference.to_dict()}
    if variant == "shared":
        app.resources.register_reference("main_db", reference)
        resources = {"db": "@main_db"}
    workflow = AsyncWorkflowBuilder("query").add_async_code("query", STEP, ["db"]).build()
    app.register_workflow("query", workflow)
    request = WorkflowRequest(parameters={"sleep": sleep}, resources=resources)
    sampler = ConnectionSampler(dsn, name, interval)
    sampler.start()
    try:
        measured: list[dict[str, Any]] = []
        async with app:
            for _ in range(rounds):
                measured.append(await _round(app, request, runs, sampler))
            await asyncio.sleep(interval * 5)  # the pool's sessions, counted at rest
            at_rest = sampler.samples[-1][1]
        closed = await _settled(sampler)
    finally:
        sampler.stop()
    return {
        "variant": variant,
        "application_name": name,
        "runs": runs,
        "max_size": max_size,
        "sleep_s": sleep,
        "ideal_wall_s": runs * sleep / max_size,
        "rounds": measured,
        "peak": sampler.peak(),  # every sample, between and after the rounds too
        "sessions_at_rest": at_rest,
        "sessions_after_stop": closed,
        "samples": len(sampler.samples),
        "interval_s": interval,
    }


async def _round(
    app: Application, request: WorkflowRequest, runs: int, sampler: ConnectionSampler
) -> dict[str, Any]:
    cpu = time.process_time()
    start = time.perf_counter()
    responses = await asyncio.gather(*(app.execute_workflow("query", request) for _ in range(runs)))
    end = time.perf_counter()
    failures = Counter(
        (response.error or str(response.status))[:200]
        for response in responses
        if response.status != RunStatus.COMPLETED
    )
    ok = runs - sum(failures.values())
    return {
        "wall_s": end - start,
        "runs_per_s": ok / (end - start),
        "completed": ok,
        "failed": runs - ok,
        "errors": dict(failures.most_common(3)),
        "cpu_s": time.process_time() - cpu,
        "peak": sampler.peak(start, end),
        "samples": sampler.count_within(start, end),
    }


async def _settled(sampler: ConnectionSampler) -> int:
    """The sessions left once the gateway has stopped (0 when it closed its pool)."""
    deadline = time.perf_counter() + SETTLE
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        if sampler.samples[-1][1] == 0:
            break
    return sampler.samples[-1][1]
