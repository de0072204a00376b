"""A built workflow: steps, the connections between them, parameters and policies; and
``DagFrontier``, where one run of its graph stands.

Built by :class:`lockgate.use_cases.workflows.builder.AsyncWorkflowBuilder`, which validates the
graph; these objects are immutable afterwards and shared by every run of the workflow.
"""

from __future__ import annotations

import enum
import graphlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import CodeType, MappingProxyType
from typing import Any

from lockgate.models.run import RunStatus

__all__ = [
    "REQUIRED",
    "DagFrontier",
    "InputSource",
    "ParameterSpec",
    "RetryPolicy",
    "StepKind",
    "StepSpec",
    "Workflow",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a parameter that every run must supply."""


class StepKind(enum.StrEnum):
    CODE = "code"  # operator-provided code text, run as the body of an async function
    CALLABLE = "callable"  # a Python coroutine function
    FUNCTION = "function"  # a Lockgate function, invoked through its pool


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing step is retried.

    Attributes:
        max_attempts: Runs at most this many times in all (1: no retry).
        backoff: Seconds before the first retry; each later wait is ``multiplier`` times
            longer, up to ``max_backoff``, with jitter so retries of many runs spread out.
        retry_on: Only these exception types are retried (a step's timeout is
            ``TimeoutError``); anything else fails the step at once. Never bare
            ``Exception``: a bug retried is a bug run three times.
    """

    max_attempts: int = 1
    backoff: float = 0.1
    multiplier: float = 2.0
    max_backoff: float = 30.0
    retry_on: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoff and max_backoff must be >= 0 and multiplier >= 1")
        if any(t in (BaseException, Exception) for t in self.retry_on):
            raise ValueError("retry_on must name specific exception types, not Exception")

    def delay(self, attempt: int) -> float:
        """The wait before attempt ``attempt + 1`` (``attempt`` counts from 1), jitter left
        to the caller."""
        return min(self.backoff * self.multiplier ** (attempt - 1), self.max_backoff)


NO_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """A declared run parameter: a run without it fails validation unless it has a default."""

    name: str
    type: type | None = None  # None: any JSON value
    default: Any = REQUIRED
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True, slots=True)
class InputSource:
    """Where a step input comes from: ``path`` inside ``from_step``'s result (empty: all of it)."""

    from_step: str
    path: tuple[str, ...]

    @property
    def output(self) -> str:
        """The output as it was written in ``add_connection``."""
        return ".".join(("result", *self.path))


StepCallable = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step of a workflow.

    Attributes:
        name: Unique within the workflow.
        kind: What runs: code text, a Python coroutine function, or a Lockgate function.
        code: The compiled code text (``kind`` CODE).
        source: The code text as given (CODE), the callable's qualified name (CALLABLE) or
            the function's name (FUNCTION), for descriptions.
        call: The coroutine function (CALLABLE).
        accepts: The keyword names ``call`` takes; None when it takes ``**kwargs``.
        function_name: The Lockgate function invoked (FUNCTION).
        inputs: Input name -> where its value comes from.
        required_resources: Resource names the step asks for with ``get_resource``.
        retry: The step's retry policy.
        timeout: Seconds one attempt may take; None: bounded only by the workflow's timeout.
        depends_on: The steps whose outputs feed this one (from ``inputs``).
    """

    name: str
    kind: StepKind
    source: str
    code: CodeType | None = None
    call: StepCallable | None = None
    accepts: frozenset[str] | None = None
    function_name: str | None = None
    inputs: Mapping[str, InputSource] = field(default_factory=dict)
    required_resources: tuple[str, ...] = ()
    retry: RetryPolicy = NO_RETRY
    timeout: float | None = None
    depends_on: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        # Read on every run's start: computed once.
        object.__setattr__(
            self, "depends_on", frozenset(source.from_step for source in self.inputs.values())
        )


@dataclass(frozen=True, slots=True)
class Workflow:
    """A validated DAG of steps.

    Attributes:
        name: The name given to the builder.
        steps: By name, in a topological order (every step after the steps it depends on).
        dependents: Step name -> the steps that take one of its outputs.
        parameters: Declared parameters; empty means any parameters are accepted.
        timeout: Seconds a whole run may take (across restarts); None: no limit.
        required_resources: Every resource some step needs.
    """

    name: str
    steps: Mapping[str, StepSpec]
    dependents: Mapping[str, tuple[str, ...]]
    parameters: Mapping[str, ParameterSpec] = field(default_factory=dict)
    timeout: float | None = None
    required_resources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", MappingProxyType(dict(self.steps)))
        object.__setattr__(self, "dependents", MappingProxyType(dict(self.dependents)))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: steps, connections, parameters, policies."""
        return {
            "name": self.name,
            "timeout": self.timeout,
            "required_resources": list(self.required_resources),
            "parameters": {
                p.name: {
                    "type": p.type.__name__ if p.type else "any",
                    "required": p.required,
                    **({} if p.required else {"default": p.default}),
                    "description": p.description,
                }
                for p in self.parameters.values()
            },
            "steps": [
                {
                    "name": s.name,
                    "kind": s.kind.value,
                    "target": s.source if s.kind is not StepKind.CODE else None,
                    "depends_on": sorted(s.depends_on),
                    "inputs": {
                        name: {"step": src.from_step, "output": src.output}
                        for name, src in s.inputs.items()
                    },
                    "required_resources": list(s.required_resources),
                    "timeout": s.timeout,
                    "max_attempts": s.retry.max_attempts,
                }
                for s in self.steps.values()
            ],
        }


class DagFrontier:
    """Where one run of a DAG stands: which steps may start, which never will, and whether
    the run is over and how. Pure: the executor says what happened, this says what next.

    The rules (the executor's, kept here so they can be tested on their own):

    - A step is ready once every step it depends on completed; restored steps (committed
      by an earlier attempt of the run) count as completed and never start again.
    - Ready steps come out in the order they became ready, those ready at the start in the
      order ``dependencies`` lists them (a workflow's topological order).
    - Fail fast: after the first failure no step starts; steps already running finish and
      are recorded, and every step not started is blocked for good.
    - The run is over when nothing runs and nothing more will start: completed when every
      step completed, failed otherwise.

    Args:
        dependencies: Step name -> the steps it depends on.
        restored: Steps already completed (names not in ``dependencies`` are ignored).

    Raises:
        ValueError: A step depends on a step that does not exist (or, ``CycleError``, the
            steps depend on each other in a cycle): the run could never end.
    """

    __slots__ = ("_failed", "_remaining", "_running", "_sorter", "_started")

    def __init__(
        self, dependencies: Mapping[str, Collection[str]], restored: Collection[str] = ()
    ) -> None:
        # graphlib keeps the counts of unfinished dependencies and the ready queue; this
        # class adds what a run needs on top: restored steps, failures, the end.
        self._sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        self._remaining = {name for name in dependencies if name not in restored}
        for name, needs in dependencies.items():
            if name not in self._remaining:
                continue
            unknown = sorted(d for d in needs if d not in dependencies)
            if unknown:
                raise ValueError(f"step {name!r} depends on unknown step(s) {unknown}")
            self._sorter.add(name, *(d for d in needs if d in self._remaining))
        self._sorter.prepare()
        self._started: set[str] = set()
        self._running: set[str] = set()
        self._failed: list[str] = []

    @classmethod
    def of(cls, workflow: Workflow, restored: Collection[str] = ()) -> DagFrontier:
        """The frontier of a run of ``workflow`` that has ``restored`` steps committed."""
        return cls({name: step.depends_on for name, step in workflow.steps.items()}, restored)

    def start_ready(self) -> tuple[str, ...]:
        """The steps to start now (none once a step failed), counted as running from now."""
        if self._failed:
            return ()
        ready: tuple[str, ...] = self._sorter.get_ready()
        self._started.update(ready)
        self._running.update(ready)
        return ready

    def completed(self, name: str) -> None:
        """``name``, started earlier, completed: the steps waiting only for it are ready."""
        self._running.remove(name)
        self._remaining.remove(name)
        self._sorter.done(name)

    def failed(self, name: str) -> None:
        """``name``, started earlier, failed: no step starts from now on."""
        self._running.remove(name)
        self._failed.append(name)

    def is_last(self, name: str) -> bool:
        """Whether ``name`` is the one step of the run not completed yet."""
        return self._remaining == {name}

    @property
    def running(self) -> frozenset[str]:
        """Steps started and not finished."""
        return frozenset(self._running)

    @property
    def failures(self) -> tuple[str, ...]:
        """The steps that failed, in the order they did."""
        return tuple(self._failed)

    @property
    def blocked(self) -> frozenset[str]:
        """Steps not started that never will (all of them once a step failed)."""
        if not self._failed:
            return frozenset()
        return frozenset(self._remaining - self._started)

    @property
    def finished(self) -> bool:
        """Nothing runs and nothing more will start."""
        return not self._running and (bool(self._failed) or not self._sorter.is_active())

    @property
    def outcome(self) -> RunStatus | None:
        """COMPLETED or FAILED once ``finished``; None before."""
        if not self.finished:
            return None
        return RunStatus.FAILED if self._failed else RunStatus.COMPLETED
