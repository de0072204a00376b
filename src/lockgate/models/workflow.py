"""A built workflow: steps, the connections between them, parameters and policies.

Built by :class:`lockgate.use_cases.workflows.builder.AsyncWorkflowBuilder`, which validates the
graph; these objects are immutable afterwards and shared by every run of the workflow.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import CodeType, MappingProxyType
from typing import Any

__all__ = [
    "REQUIRED",
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
