"""What a running step sees: ``get_current_context()`` and ``await get_resource(name)``.

Both read a context variable that the executor sets around each step, so concurrent runs
(and concurrent steps of one run) each see their own; nothing process-wide is patched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from lockgate.errors import LockgateError, ResourceNotFoundError
from lockgate.models.trace import TraceContext

__all__ = ["ExecutionContext", "get_current_context", "get_resource"]

ResourceLookup = Callable[[str], Awaitable[Any]]


class ExecutionContext:
    """The context of one step of one run.

    Attributes:
        run_id, workflow_id, step: Which run and step this is.
        attempt: 1 on the first try, then 2, 3 ... when the step's retry policy retries.
        trace: The step's span when tracing is on (None when off): ``trace.traceparent``
            is the header to send so that a service the step calls joins the run's trace.
    """

    __slots__ = ("_lookup", "_variables", "attempt", "run_id", "step", "trace", "workflow_id")

    def __init__(
        self,
        *,
        run_id: str,
        workflow_id: str,
        step: str,
        attempt: int,
        variables: Mapping[str, Any],
        lookup: ResourceLookup,
        trace: TraceContext | None = None,
    ) -> None:
        self.run_id = run_id
        self.trace = trace
        self.workflow_id = workflow_id
        self.step = step
        self.attempt = attempt
        self._variables = variables
        self._lookup = lookup

    def get_variable(self, name: str, default: Any = None) -> Any:
        """The request's context variable ``name`` (``default`` when it has none)."""
        return self._variables.get(name, default)

    @property
    def variables(self) -> Mapping[str, Any]:
        return self._variables

    async def get_resource(self, name: str) -> Any:
        return await self._lookup(name)

    def __repr__(self) -> str:
        return f"ExecutionContext(run_id={self.run_id!r}, step={self.step!r})"


current_context: ContextVar[ExecutionContext | None] = ContextVar(
    "lockgate_execution_context", default=None
)


def get_current_context() -> ExecutionContext:
    """The context of the step that is running.

    Raises:
        RuntimeError: Called outside a workflow step.
    """
    context = current_context.get()
    if context is None:
        raise RuntimeError("get_current_context() is only available inside a workflow step")
    return context


async def get_resource(name: str) -> Any:
    """The resource ``name`` of the running step's run (a pool, a client, a cache ...).

    Raises:
        ResourceNotFoundError: The run was not given a resource by that name.
        SecretNotFoundError: The secret its ``credentials_ref`` names does not exist (the
            message names the secret).
        ResourceUnavailableError, ResourceConfigError: It could not be created.
        RuntimeError: Called outside a workflow step.
    """
    context = current_context.get()
    if context is None:
        raise RuntimeError("get_resource() is only available inside a workflow step")
    try:
        return await context.get_resource(name)
    except LockgateError:  # ours name what is missing (a secret, a shared resource) already
        raise
    except LookupError as exc:
        raise ResourceNotFoundError(f"resource {name!r} is not available", name=name) from exc
