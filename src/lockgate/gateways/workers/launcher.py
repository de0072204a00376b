"""One ``IWorkerLauncher`` for every local runtime: it picks the launcher a function's
``runtime`` needs, so the composition root wires a single launcher into the pools."""

from __future__ import annotations

from lockgate.gateways.workers.ports import IWorker, IWorkerLauncher
from lockgate.models.function import FunctionEntity

__all__ = ["ProcessOrRuntimeApiWorkerLauncher", "RuntimeWorkerLauncher"]


class ProcessOrRuntimeApiWorkerLauncher:
    """Starts workers through ``native`` for ``runtime = "python"`` and through ``provided``
    for ``runtime = "provided"`` (custom runtimes on the Runtime API); see
    ``IWorkerLauncher``.

    Args:
        native: Starts Lockgate's own Python workers (``ProcessWorkerLauncher``).
        provided: Starts custom runtimes (``RuntimeApiWorkerLauncher``).
    """

    def __init__(self, *, native: IWorkerLauncher, provided: IWorkerLauncher) -> None:
        self._native = native
        self._provided = provided

    async def launch(self, function: FunctionEntity) -> IWorker:
        """Start a worker with the launcher ``function.runtime`` names.

        Args:
            function: The function to start a worker for.

        Returns:
            A ready worker.

        Raises:
            FunctionInitError: The handler or runtime failed to initialise.
            WorkerCrashedError: The worker process failed to start.
            ValueError: ``function.runtime`` is not one this launcher knows.

        Side Effects:
            Starts an operating-system process.
        """
        if function.runtime == "provided":
            return await self._provided.launch(function)
        if function.runtime == "python":
            return await self._native.launch(function)
        raise ValueError(f"function {function.name!r}: unknown runtime {function.runtime!r}")


# The name before implementations were named by technology (seed 000):
# it starts native process workers or Runtime API ones.
RuntimeWorkerLauncher = ProcessOrRuntimeApiWorkerLauncher
