"""Target 1: what ``await get_resource("db")`` costs once the pool exists.

Each resolve goes through a fresh ``RunResources`` (the per-run memo would otherwise answer
every call after the first from a dict): the registry finds the entry (``"@main_db"``: a dict
look-up; an inline reference: parse its JSON form and compute its pool key) and returns the
instance it already holds. ``RunResources`` are made before a batch's timing starts and
released after it ends; the whole cycle (lookup, resolve, release) is timed separately.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import unique_name
from benchmarks.resources.common import (
    ANY_ADDRESS,
    CREDENTIALS_SECRET,
    memory_secrets,
    postgres_config,
)
from benchmarks.resources.timing import per_op_batches

from lockgate.gateways.resources.database.resolver import DatabaseResolver
from lockgate.gateways.resources.egress.guard import EgressGuard
from lockgate.models.resource import ResourceReference
from lockgate.models.security.egress import EgressPolicy
from lockgate.use_cases.resources.registry import ResourceRegistry

__all__ = ["measure_resolve"]

WARM_UP = 2_000


async def measure_resolve(
    dsn: str | None, scratch: Path, iterations: int, batch_size: int
) -> dict[str, Any]:
    """Per-resolve µs of a pooled shared resource and of a pooled inline reference.

    Args:
        dsn: The PostgreSQL server the pools connect to; None: a SQLite file in ``scratch``.
        iterations: Resolves measured per case.
        batch_size: Resolves per timed batch.
    """
    if dsn is not None:
        config = postgres_config(dsn, max_size=2, application_name=unique_name("lg_resolve"))
        driver, secret = "postgresql", CREDENTIALS_SECRET
    else:  # a SQLite database takes no credentials
        config = {"driver": "sqlite", "path": str(scratch / "resolve.sqlite3")}
        driver, secret = "sqlite", None
    reference = ResourceReference("database", config, secret)
    # The operator turns inline references on, lets them reach the benchmark's server
    # wherever the DSN points (every address listed), and lets them name this secret.
    registry = ResourceRegistry(
        secrets=await memory_secrets(dsn or ""),
        allow_inline=True,
        egress=EgressGuard(EgressPolicy.from_entries(ANY_ADDRESS)),
        inline_credentials=[CREDENTIALS_SECRET],
    )
    registry.register_resolver("database", DatabaseResolver())
    registry.register_reference("main_db", reference)
    shared = {"db": "@main_db"}
    inline = {"db": reference.to_dict()}  # the JSON form a run records and resolves from
    try:
        results: dict[str, Any] = {"driver": driver}
        for case, references in (("shared", shared), ("inline", inline)):
            pool = await _check(registry, references)

            async def resolve(n: int, references: dict[str, Any] = references) -> float:
                runs = [registry.lookup(references) for _ in range(n)]
                start = time.perf_counter()
                for run in runs:
                    await run("db")
                elapsed = time.perf_counter() - start
                for run in runs:
                    run.release()
                return elapsed

            async def cycle(n: int, references: dict[str, Any] = references) -> float:
                start = time.perf_counter()
                for _ in range(n):
                    run = registry.lookup(references)
                    await run("db")
                    run.release()
                return time.perf_counter() - start

            await resolve(WARM_UP)
            results[case] = await per_op_batches(resolve, iterations, batch_size)
            results[f"{case}_cycle"] = await per_op_batches(cycle, iterations, batch_size)
            if await _check(registry, references) is not pool:
                raise RuntimeError(f"{case}: the pooled instance changed during the run")
        return results
    finally:
        await registry.close()


async def _check(registry: ResourceRegistry, references: dict[str, Any]) -> Any:
    """The instance two fresh runs resolve ``db`` to (created by the first resolve), which
    must be one and the same object."""
    first, second = registry.lookup(references), registry.lookup(references)
    instance = await first("db")
    if await second("db") is not instance:
        raise RuntimeError("two runs resolved the same reference to different instances")
    first.release()
    second.release()
    return instance
