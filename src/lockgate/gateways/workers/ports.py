"""``IWorker``, ``IWorkerLauncher`` and ``IInvocationBackend``: where an invocation runs."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply

__all__ = ["IInvocationBackend", "IWorker", "IWorkerLauncher"]


@runtime_checkable
class IWorker(Protocol):
    """One started worker that runs one invocation at a time."""

    @property
    def worker_id(self) -> str:
        """A short id, unique within the gateway, for logs and health."""
        ...

    @property
    def alive(self) -> bool:
        """False once the worker has exited or been killed."""
        ...

    async def invoke(self, invocation: WorkerInvocation) -> WorkerReply:
        """Run the handler once and wait for its reply.

        Args:
            invocation: The event and the Lambda context fields.

        Returns:
            The handler's return value or exception, its logs and its duration.

        Raises:
            WorkerCrashedError: The worker died or broke the protocol; ``reached_handler``
                says whether the request may have run.

        Side Effects:
            Runs user code in the worker process.

        Note:
            Never enforces a deadline itself: the caller cancels and then calls ``kill()``.
            A cancelled call leaves the worker unusable.
        """
        ...

    def kill(self) -> None:
        """Stop the worker at once (and anything it started). Idempotent, never raises."""
        ...

    async def wait_closed(self) -> None:
        """Wait until the worker has fully exited (after ``kill()``)."""
        ...


@runtime_checkable
class IWorkerLauncher(Protocol):
    """Starts workers for a function."""

    async def launch(self, function: FunctionEntity) -> IWorker:
        """Start a worker and wait until its handler is imported.

        Args:
            function: The function whose handler the worker imports.

        Returns:
            A ready worker.

        Raises:
            FunctionInitError: The handler failed to import or initialise; the message is
                the error the handler raised.
            WorkerCrashedError: The worker process failed to start (``reached_handler``
                is False).

        Side Effects:
            Starts an operating-system process.
        """
        ...


@runtime_checkable
class IInvocationBackend(Protocol):
    """Where invocations run: local worker pools today, AWS Lambda tomorrow."""

    async def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> tuple[WorkerReply, bool]:
        """Run one invocation before ``deadline`` (``time.monotonic()`` seconds).

        Args:
            function: The function to run.
            invocation: The event and context fields.
            deadline: Monotonic time by which the reply must be in.

        Returns:
            The worker's reply and whether this invocation paid a cold start.

        Raises:
            TooManyRequestsError: No worker could be had in time; nothing ran.
            InvocationTimeoutError: The deadline passed while the handler ran.
            InvocationError: Any other failure (crash, init error, closed pool).

        Side Effects:
            May start or kill worker processes.
        """
        ...
