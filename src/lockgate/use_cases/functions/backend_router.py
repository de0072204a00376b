"""``BackendRouter``: one ``IInvocationBackend`` that sends each function to the backend
its declaration names (``local`` worker pools, ``aws-lambda``)."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any

from lockgate.errors import InvocationError
from lockgate.gateways.interfaces import IInvocationBackend
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import WorkerInvocation, WorkerReply

__all__ = ["BackendRouter"]


class BackendRouter:
    """Dispatches on ``function.backend``.

    Args:
        backends: The backend for each name a function may declare.
    """

    def __init__(self, backends: Mapping[str, IInvocationBackend]) -> None:
        self._backends = dict(backends)

    def invoke(
        self, function: FunctionEntity, invocation: WorkerInvocation, deadline: float
    ) -> Coroutine[Any, Any, tuple[WorkerReply, bool]]:
        """The chosen backend's ``invoke`` (returned, not awaited here: no extra frame on
        the hot path).

        Raises:
            InvocationError: No backend of that name was wired (a missing extra, say).
        """
        backend = self._backends.get(function.backend)
        if backend is None:
            raise InvocationError(
                f"function {function.name!r} runs on backend {function.backend!r}, which this "
                f"gateway has not got (it has: {', '.join(sorted(self._backends))})",
                function=function.name,
            )
        return backend.invoke(function, invocation, deadline)
