"""Whether each function's handler loads, checked the way a call would load it.

For each local function one throwaway worker is started by the same launcher the pools use
(so a check and a real start cannot disagree) and stopped once it is ready. The handler is
imported in that worker's process, never in the gateway's: user code run at import stays
out of the gateway, and two functions' same-named modules in different ``code_dir`` do not
collide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from lockgate.errors import FunctionInitError, WorkerCrashedError
from lockgate.gateways.interfaces import IWorkerLauncher
from lockgate.models.function import FunctionEntity

__all__ = ["HandlerProblem", "check_handlers"]


@dataclass(frozen=True, slots=True)
class HandlerProblem:
    """A function whose worker could not start.

    Attributes:
        function: The function's name.
        key: The function's key at fault: ``handler``, or ``command`` for a custom runtime.
        message: Why, in the words of the error a call would get (AWS's error type first).
    """

    function: str
    key: str
    message: str


async def check_handlers(
    functions: Iterable[FunctionEntity], launcher: IWorkerLauncher, *, concurrency: int
) -> list[HandlerProblem]:
    """Start and stop one worker for each local function; the ones that failed, in order.

    Args:
        functions: The functions to check; only ``backend = "local"`` ones run here.
        launcher: Starts workers, as the pools do.
        concurrency: Workers starting at once.

    Returns:
        One problem per function whose handler did not load, in the order given.

    Side Effects:
        Starts (and kills) one worker process per local function.
    """
    local = [f for f in functions if f.backend == "local"]
    gate = asyncio.Semaphore(concurrency)

    async def one(function: FunctionEntity) -> HandlerProblem | None:
        key = "command" if function.runtime == "provided" else "handler"
        async with gate:
            try:
                worker = await launcher.launch(function)
            except FunctionInitError as exc:
                detail = exc.fields.get("error_message")
                reason = f"{exc.error_type}: {detail}" if detail else exc.message
                return HandlerProblem(function.name, key, f"cannot be loaded: {reason}")
            except WorkerCrashedError as exc:
                return HandlerProblem(function.name, key, f"cannot be loaded: {exc.message}")
            worker.kill()
            await worker.wait_closed()
            return None

    found = await asyncio.gather(*(one(function) for function in local))
    return [problem for problem in found if problem is not None]
