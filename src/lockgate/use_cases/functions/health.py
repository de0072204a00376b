"""The gateway's health: per function, its pool's counts, its breaker and its last init error."""

from __future__ import annotations

from typing import Any

from lockgate.models.pool import BreakerState
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.pool_manager import PoolManager
from lockgate.use_cases.functions.registry import FunctionRegistry

__all__ = ["gateway_health"]


def gateway_health(
    registry: FunctionRegistry, manager: PoolManager, invoker: LambdaInvoker
) -> dict[str, Any]:
    """``{"status": "healthy" | "degraded", "functions": {name: {...}}}``.

    A function is unhealthy when its breaker is not closed or its last start failed; the
    gateway is degraded when any function is.
    """
    functions: dict[str, Any] = {}
    for function in registry.all():
        breaker = invoker.breaker_state(function.name)
        if function.backend != "local":  # no pool here: the breaker says all there is
            functions[function.name] = {
                "status": "healthy" if breaker is BreakerState.CLOSED else "unhealthy",
                "backend": function.backend,
                "breaker": breaker.value,
            }
            continue
        stats = manager.pool_for(function).stats()
        healthy = breaker is BreakerState.CLOSED and stats.last_init_error is None
        functions[function.name] = {
            "status": "healthy" if healthy else "unhealthy",
            "warm": stats.warm,
            "busy": stats.busy,
            "starting": stats.starting,
            "queued": stats.queued,
            "max_capacity": stats.max_capacity,
            "cold_starts": stats.cold_starts,
            "breaker": breaker.value,
            "last_init_error": stats.last_init_error,
            "config_hash": stats.config_hash,
            "backend": function.backend,
        }
    degraded = any(f["status"] != "healthy" for f in functions.values())
    return {"status": "degraded" if degraded else "healthy", "functions": functions}
