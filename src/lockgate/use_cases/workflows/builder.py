"""``AsyncWorkflowBuilder``: declare steps and connections, then ``build()`` a ``Workflow``.

Steps are operator-provided code text (``add_async_code``), Python coroutine functions
(``add_step``) or Lockgate functions (``add_function_step``). ``build()`` checks the whole
graph and raises one ``WorkflowDefinitionError`` (a ``ValueError``) naming the step at fault.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable
from typing import Any, Self

from lockgate.errors import WorkflowDefinitionError
from lockgate.models.workflow import (
    NO_RETRY,
    REQUIRED,
    InputSource,
    ParameterSpec,
    RetryPolicy,
    StepCallable,
    StepKind,
    StepSpec,
    Workflow,
)

__all__ = ["AsyncWorkflowBuilder"]


def _output_path(output: str) -> tuple[str, ...] | None:
    """``"result.items"`` and ``"items"`` both mean the result's ``items``; ``"result"`` is
    the whole result. None when the path is malformed."""
    parts = tuple(output.split("."))
    if not all(parts):
        return None
    return parts[1:] if parts[0] == "result" else parts


def _positive(value: float | None, what: str) -> float | None:
    if value is not None and not value > 0:
        raise WorkflowDefinitionError(f"{what} must be a positive number of seconds, not {value}")
    return value


class AsyncWorkflowBuilder:
    """Builds a workflow: a DAG of async steps whose outputs feed each other's inputs.

    Inputs reach a step as variables (code text) or keyword arguments (callables), beside
    the run's parameters; an input wins over a parameter of the same name. A step's result
    is a JSON value: what code text assigns to ``result``, what a callable returns, what a
    function's handler returns.
    """

    def __init__(self, name: str, *, timeout: float | None = None) -> None:
        if not name:
            raise WorkflowDefinitionError("a workflow needs a name")
        self.name = name
        self._timeout = _positive(timeout, f"workflow {name!r} timeout")
        self._steps: dict[str, dict[str, Any]] = {}
        self._connections: list[tuple[str, str, str, str]] = []
        self._parameters: dict[str, ParameterSpec] = {}
        self._problems: list[str] = []

    def add_async_code(
        self,
        step: str,
        code: str,
        required_resources: Iterable[str] = (),
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Self:
        """Add a step whose body is ``code``, run as an async function body: it may
        ``await``, reads its inputs and parameters as variables, calls ``get_resource`` and
        ``get_current_context`` without importing them, and must assign ``result``."""
        try:
            compiled = compile(code, f"<step {step}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as exc:
            self._problems.append(
                f"step {step!r}: its code does not compile (line {exc.lineno}: {exc.msg})"
            )
            compiled = None
        else:
            if "result" not in compiled.co_names:
                self._problems.append(f"step {step!r}: its code never assigns `result`")
        return self._add(
            step,
            kind=StepKind.CODE,
            source=code,
            code=compiled,
            required_resources=tuple(required_resources),
            retry=retry,
            timeout=timeout,
        )

    def add_step(
        self,
        step: str,
        async_fn: StepCallable,
        required_resources: Iterable[str] = (),
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Self:
        """Add a step that awaits ``async_fn(**inputs)``; it gets the parameters and inputs
        its signature names (all of them if it takes ``**kwargs``) and returns the result."""
        accepts: frozenset[str] | None = frozenset()
        if not inspect.iscoroutinefunction(async_fn):
            self._problems.append(f"step {step!r}: {async_fn!r} is not an async function")
        else:
            parameters = inspect.signature(async_fn).parameters.values()
            if any(p.kind is p.VAR_KEYWORD for p in parameters):
                accepts = None
            else:
                named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                accepts = frozenset(p.name for p in parameters if p.kind in named)
        return self._add(
            step,
            kind=StepKind.CALLABLE,
            source=getattr(async_fn, "__qualname__", repr(async_fn)),
            call=async_fn,
            accepts=accepts,
            required_resources=tuple(required_resources),
            retry=retry,
            timeout=timeout,
        )

    def add_function_step(
        self,
        step: str,
        function_name: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Self:
        """Add a step that invokes the Lockgate function ``function_name`` through its
        pool, with the parameters and inputs as its event; the handler's return value is
        the result, and a handler error fails the step."""
        return self._add(
            step,
            kind=StepKind.FUNCTION,
            source=function_name,
            function_name=function_name,
            retry=retry,
            timeout=timeout,
        )

    def add_connection(self, from_step: str, output: str, to_step: str, input: str) -> Self:
        """Feed ``output`` of ``from_step``'s result (a dotted path: ``"result.items"`` or
        ``"items"``; ``"result"`` for all of it) to ``to_step`` as the input ``input``."""
        self._connections.append((from_step, output, to_step, input))
        return self

    def add_parameter(
        self,
        name: str,
        type: type | None = None,
        *,
        default: Any = REQUIRED,
        description: str = "",
    ) -> Self:
        """Declare a run parameter; once any is declared, runs must supply the required
        ones, with the declared types, and nothing undeclared."""
        if name in self._parameters:
            self._problems.append(f"parameter {name!r} is declared twice")
        self._parameters[name] = ParameterSpec(name, type, default, description)
        return self

    def set_timeout(self, seconds: float | None) -> Self:
        """Bound a whole run, across restarts; past it the run fails."""
        self._timeout = _positive(seconds, f"workflow {self.name!r} timeout")
        return self

    def _add(self, step: str, **spec: Any) -> Self:
        if not step or not isinstance(step, str):
            self._problems.append(f"a step name must be a non-empty string, not {step!r}")
        elif step in self._steps:
            self._problems.append(f"step {step!r} is added twice")
        else:
            spec["timeout"] = _positive(spec.get("timeout"), f"step {step!r} timeout")
            spec["retry"] = spec.get("retry") or NO_RETRY
            self._steps[step] = spec
        return self

    def build(self) -> Workflow:
        """Check the graph and return the workflow.

        Raises:
            WorkflowDefinitionError: (a ``ValueError``) listing every problem, each naming
                its step: unknown or duplicate steps, cycles, an input fed twice, an input a
                callable does not take, code that does not compile.
        """
        problems = list(self._problems)
        if not self._steps:
            problems.append("it has no steps")
        inputs: dict[str, dict[str, InputSource]] = {name: {} for name in self._steps}
        for from_step, output, to_step, input_name in self._connections:
            where = f"connection {from_step!r}.{output} -> {to_step!r}.{input_name}"
            unknown = [s for s in (from_step, to_step) if s not in self._steps]
            path = _output_path(output)
            if unknown:
                problems.append(f"{where}: unknown step {unknown[0]!r}")
            elif path is None:
                problems.append(f"{where}: output {output!r} is not a dotted path")
            elif not input_name.isidentifier():
                problems.append(f"{where}: input {input_name!r} is not a valid name")
            elif input_name in inputs[to_step]:
                problems.append(f"step {to_step!r}: input {input_name!r} is fed twice")
            elif (accepts := self._steps[to_step].get("accepts", None)) is not None and (
                self._steps[to_step]["kind"] is StepKind.CALLABLE and input_name not in accepts
            ):
                problems.append(f"step {to_step!r}: its function takes no argument {input_name!r}")
            else:
                inputs[to_step][input_name] = InputSource(from_step, path)
        order = self._order(inputs, problems)
        if problems:
            raise WorkflowDefinitionError(
                f"workflow {self.name!r} is invalid: " + "; ".join(problems),
                workflow=self.name,
                problems=problems,
            )
        steps = {
            name: StepSpec(name=name, inputs=inputs[name], **self._steps[name]) for name in order
        }
        dependents: dict[str, list[str]] = {name: [] for name in order}
        for name, step in steps.items():
            for dependency in step.depends_on:
                dependents[dependency].append(name)
        required = dict.fromkeys(r for s in steps.values() for r in s.required_resources)
        return Workflow(
            name=self.name,
            steps=steps,
            dependents={name: tuple(d) for name, d in dependents.items()},
            parameters=self._parameters,
            timeout=self._timeout,
            required_resources=tuple(required),
        )

    def _order(self, inputs: dict[str, dict[str, InputSource]], problems: list[str]) -> list[str]:
        """A topological order (Kahn's algorithm, stable in the order steps were added);
        steps left over are on or behind a cycle."""
        waiting = {name: {s.from_step for s in feeds.values()} for name, feeds in inputs.items()}
        order: list[str] = []
        ready = [name for name, deps in waiting.items() if not deps]
        while ready:
            name = ready.pop(0)
            order.append(name)
            for other, deps in waiting.items():
                if name in deps:
                    deps.discard(name)
                    if not deps:
                        ready.append(other)
        if len(order) < len(inputs):
            cycle = self._cycle(waiting)
            problems.append(f"step {cycle[0]!r} is on a cycle: {' -> '.join(cycle)}")
        return order

    @staticmethod
    def _cycle(waiting: dict[str, set[str]]) -> list[str]:
        """One cycle among the steps still waiting: each of them waits on another waiting
        step, so walking dependencies must come back to a step already seen."""
        path = [next(name for name, deps in waiting.items() if deps)]
        while True:
            step = min(waiting[path[-1]])
            if step in path:
                cycle = path[path.index(step) :]
                return [*reversed(cycle), cycle[-1]]
            path.append(step)
