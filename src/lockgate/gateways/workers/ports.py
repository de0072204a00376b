"""``IWorker``, ``IWorkerLauncher``, ``IInvocationBackend`` and ``IFunctionCaller``: where an
invocation runs, and how a workflow step calls a function."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply

__all__ = ["IFunctionCaller", "IInvocationBackend", "IWorker", "IWorkerLauncher"]


@runtime_checkable
class IWorker(Protocol):
    """One started worker that runs one invocation at a time."""

    @property
    def worker_id(self) -> str:
        """A short id, unique within the gateway, for logs and health.

        Returns:
            The id (``p12``, ``r3``), fixed for the worker's life.

        Raises:
            Nothing: the id is set when the worker starts.

        Side Effects:
            None.

        Note:
            No external call.
        """
        ...

    @property
    def alive(self) -> bool:
        """Whether the worker can take an invocation.

        Returns:
            False once the worker has exited or been killed.

        Raises:
            Nothing.

        Side Effects:
            None.

        Note:
            No external call: the process's exit is reported to the event loop, which
            records it.
        """
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
            A cancelled call leaves the worker unusable. The process worker writes one
            frame to the worker's stdin and reads one from its stdout; the Runtime API
            worker answers the runtime's ``GET /invocation/next`` and reads its
            ``POST /invocation/{id}/response`` (or ``/error``).
        """
        ...

    def kill(self) -> None:
        """Stop the worker at once, and anything it started.

        Raises:
            Nothing: idempotent, and a worker already gone is not an error.

        Side Effects:
            The worker's process group is killed; ``alive`` turns False.

        Note:
            Calls ``os.killpg(..., SIGKILL)`` (the in-memory fake only marks itself dead).
        """
        ...

    async def wait_closed(self) -> None:
        """Wait until the worker has fully exited (after ``kill()``).

        Raises:
            Nothing.

        Side Effects:
            Reaps the process, so no zombie is left.

        Note:
            Awaits the subprocess transport's exit (``waitpid`` underneath).
        """
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

        Note:
            Calls ``asyncio.create_subprocess_exec`` (``python -m lockgate.worker``, or a
            custom runtime's ``command`` with a loopback Runtime API server beside it).
        """
        ...


@runtime_checkable
class IInvocationBackend(Protocol):
    """Where invocations run: local worker pools, or AWS Lambda itself."""

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

        Note:
            The local backend checks a worker out of the function's pool and calls
            ``IWorker.invoke``; the AWS one calls Lambda's ``Invoke`` API through boto3.
        """
        ...


@runtime_checkable
class IFunctionCaller(Protocol):
    """How a workflow step (``add_function_step``) invokes a Lockgate function."""

    async def __call__(self, name: str, payload: Any) -> Any:
        """Invoke function ``name`` with ``payload``.

        Args:
            name: A declared function.
            payload: The event (a JSON value).

        Returns:
            The handler's return value, decoded from JSON.

        Raises:
            TimeoutError: The function timed out.
            ConnectionError: It could not run (throttled, crashed before the handler): the
                step's retry policy may try again safely.
            RuntimeError: The handler raised or the invocation failed; the message says why.

        Side Effects:
            Runs the function's handler.

        Note:
            Calls ``LambdaInvoker.invoke_function``, which runs the invocation on the
            function's ``IInvocationBackend``.
        """
        ...
