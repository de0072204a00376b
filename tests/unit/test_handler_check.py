"""``check_handlers``: one throwaway worker per local function, started by the pools' own
launcher and stopped at once; the functions whose worker failed, keyed by what loads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lockgate.errors import FunctionInitError, WorkerCrashedError
from lockgate.gateways.workers.memory import InMemoryWorker, InMemoryWorkerLauncher
from lockgate.models.function import FunctionEntity
from lockgate.use_cases.functions.handler_check import HandlerProblem, check_handlers

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:remote"


async def echo(event: Any) -> Any:
    return event


class _Launcher(InMemoryWorkerLauncher):
    """Fails the launches of the functions named in ``failures``."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        super().__init__(echo)
        self.failures = failures
        self.asked: list[str] = []

    async def launch(self, function: FunctionEntity) -> InMemoryWorker:
        self.asked.append(function.name)
        if function.name in self.failures:
            raise self.failures[function.name]
        return await super().launch(function)


def function(name: str, **fields: Any) -> FunctionEntity:
    return FunctionEntity(name=name, handler="handlers:echo", code_dir=Path.cwd(), **fields)


async def test_each_local_function_gets_a_worker_that_is_stopped_again() -> None:
    launcher = _Launcher({})
    functions = [
        function("a"),
        function("b"),
        FunctionEntity(name="remote", backend="aws-lambda", aws_arn=ARN),
    ]
    assert await check_handlers(functions, launcher, concurrency=2) == []
    assert launcher.asked == ["a", "b"]  # an aws-lambda function has no local handler
    assert [worker.alive for worker in launcher.launched] == [False, False]
    assert launcher.max_concurrent_starts <= 2


async def test_the_failures_are_named_in_order_with_the_error_a_call_would_get() -> None:
    launcher = _Launcher(
        {
            "typo": FunctionInitError(
                "function 'typo' failed to initialise: ...",
                error_type="Runtime.HandlerNotFound",
                error_message="Handler 'ecoh' missing on module 'handlers'",
            ),
            "custom": WorkerCrashedError(
                "worker for function 'custom' exited before it was ready: boom",
                reached_handler=False,
            ),
        }
    )
    functions = [
        function("typo"),
        function("fine"),
        function("custom", runtime="provided", command=("./bootstrap",)),
    ]
    assert await check_handlers(functions, launcher, concurrency=4) == [
        HandlerProblem(
            "typo",
            "handler",
            "cannot be loaded: Runtime.HandlerNotFound: Handler 'ecoh' missing on module "
            "'handlers'",
        ),
        HandlerProblem(
            "custom",
            "command",
            "cannot be loaded: worker for function 'custom' exited before it was ready: boom",
        ),
    ]
