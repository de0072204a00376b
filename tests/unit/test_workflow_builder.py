"""AsyncWorkflowBuilder: what ``build()`` accepts, what it refuses (naming the step), the
order and wiring of a built workflow, retry policies and ``describe()``."""

from __future__ import annotations

from typing import Any

import pytest

from lockgate.errors import WorkflowDefinitionError
from lockgate.models.workflow import InputSource, RetryPolicy, StepKind
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder


async def fetch(**kwargs: Any) -> Any:
    return {"items": [1, 2]}


async def total(items: list[int]) -> int:
    return sum(items)


def sync_step(items: list[int]) -> int:
    return sum(items)


# -- what build() returns ---------------------------------------------------------------------


def test_build_orders_steps_after_their_dependencies() -> None:
    workflow = (
        AsyncWorkflowBuilder("orders")
        .add_step("total", total)
        .add_async_code("fetch", "result = {'items': [1, 2]}")
        .add_connection("fetch", "result.items", "total", "items")
        .build()
    )
    assert list(workflow.steps) == ["fetch", "total"]
    assert workflow.dependents == {"fetch": ("total",), "total": ()}
    assert workflow.steps["total"].depends_on == frozenset({"fetch"})
    assert workflow.steps["total"].inputs == {"items": InputSource("fetch", ("items",))}


@pytest.mark.parametrize(
    ("output", "path"),
    [
        ("result.items", ("items",)),
        ("items", ("items",)),
        ("result", ()),
        ("result.meta.count", ("meta", "count")),
        ("meta.count", ("meta", "count")),
    ],
)
def test_output_paths_with_and_without_the_result_prefix(
    output: str, path: tuple[str, ...]
) -> None:
    workflow = (
        AsyncWorkflowBuilder("paths")
        .add_step("fetch", fetch)
        .add_step("total", total)
        .add_connection("fetch", output, "total", "items")
        .build()
    )
    source = workflow.steps["total"].inputs["items"]
    assert source.path == path
    assert source.output == ".".join(("result", *path))


def test_step_kinds_and_what_they_keep() -> None:
    workflow = (
        AsyncWorkflowBuilder("kinds")
        .add_async_code("code", "result = 1", required_resources=["db"])
        .add_step("call", fetch, required_resources=["cache", "db"])
        .add_function_step("fn", "resize")
        .build()
    )
    code, call, fn = (workflow.steps[name] for name in ("code", "call", "fn"))
    assert (code.kind, call.kind, fn.kind) == (StepKind.CODE, StepKind.CALLABLE, StepKind.FUNCTION)
    assert code.code is not None
    assert code.source == "result = 1"
    assert call.call is fetch
    assert call.accepts is None  # takes **kwargs
    assert fn.function_name == "resize"
    # Every resource some step needs, once, in the order first named.
    assert workflow.required_resources == ("db", "cache")


def test_a_callable_without_kwargs_accepts_only_its_named_arguments() -> None:
    workflow = AsyncWorkflowBuilder("w").add_step("total", total).build()
    assert workflow.steps["total"].accepts == frozenset({"items"})


def test_retry_and_timeouts_are_kept() -> None:
    policy = RetryPolicy(max_attempts=3, backoff=0.0, retry_on=(ConnectionError,))
    workflow = (
        AsyncWorkflowBuilder("w", timeout=60)
        .add_step("a", fetch, retry=policy, timeout=5)
        .add_async_code("b", "result = 1")
        .build()
    )
    assert workflow.timeout == 60
    assert workflow.steps["a"].retry is policy
    assert workflow.steps["a"].timeout == 5
    assert workflow.steps["b"].retry.max_attempts == 1
    assert workflow.steps["b"].timeout is None
    assert AsyncWorkflowBuilder("w").add_step("a", fetch).set_timeout(7).build().timeout == 7


def test_a_built_workflow_cannot_be_changed() -> None:
    workflow = AsyncWorkflowBuilder("w").add_step("a", fetch).build()
    with pytest.raises(TypeError):
        workflow.steps["b"] = workflow.steps["a"]  # type: ignore[index]


# -- what build() refuses ---------------------------------------------------------------------


def build_error(builder: AsyncWorkflowBuilder) -> str:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 (the messages are checked below)
        builder.build()
    assert isinstance(caught.value, WorkflowDefinitionError)
    return str(caught.value)


def test_a_connection_to_an_unknown_step_is_named() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("fetch", fetch)
        .add_connection("fetch", "items", "nowhere", "items")
    )
    assert "unknown step 'nowhere'" in build_error(builder)


def test_a_connection_from_an_unknown_step_is_named() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("total", total)
        .add_connection("ghost", "items", "total", "items")
    )
    assert "unknown step 'ghost'" in build_error(builder)


def test_a_duplicate_step_name_is_named() -> None:
    builder = AsyncWorkflowBuilder("w").add_step("fetch", fetch).add_async_code("fetch", "result=1")
    assert "step 'fetch' is added twice" in build_error(builder)


def test_a_cycle_is_named() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("start", fetch)
        .add_step("a", fetch)
        .add_step("b", fetch)
        .add_connection("start", "result", "a", "x")
        .add_connection("a", "result", "b", "x")
        .add_connection("b", "result", "a", "y")
    )
    message = build_error(builder)
    assert "is on a cycle" in message
    assert "on a cycle: b -> a -> b" in message or "on a cycle: a -> b -> a" in message
    assert "start" not in message.split("is on a cycle")[1]


def test_a_step_feeding_itself_is_a_cycle() -> None:
    builder = (
        AsyncWorkflowBuilder("w").add_step("loop", fetch).add_connection("loop", "x", "loop", "x")
    )
    assert "step 'loop' is on a cycle: loop -> loop" in build_error(builder)


def test_an_input_fed_twice_is_named() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("a", fetch)
        .add_step("b", fetch)
        .add_step("total", total)
        .add_connection("a", "items", "total", "items")
        .add_connection("b", "items", "total", "items")
    )
    assert "step 'total': input 'items' is fed twice" in build_error(builder)


def test_a_sync_function_is_refused() -> None:
    # The type checker refuses it too; build() must, for callers it does not see.
    builder = AsyncWorkflowBuilder("w").add_step("total", sync_step)  # type: ignore[arg-type]
    message = build_error(builder)
    assert "step 'total'" in message
    assert "is not an async function" in message


def test_an_input_the_callable_does_not_take_is_named() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("fetch", fetch)
        .add_step("total", total)
        .add_connection("fetch", "items", "total", "numbers")
    )
    assert "step 'total': its function takes no argument 'numbers'" in build_error(builder)


def test_code_that_does_not_compile_is_named() -> None:
    builder = AsyncWorkflowBuilder("w").add_async_code("parse", "result = (")
    message = build_error(builder)
    assert "step 'parse': its code does not compile" in message


@pytest.mark.parametrize("output", ["", "result.", ".items", "a..b"])
def test_a_malformed_output_path_is_named(output: str) -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("fetch", fetch)
        .add_step("total", total)
        .add_connection("fetch", output, "total", "items")
    )
    assert "is not a dotted path" in build_error(builder)


def test_an_input_name_must_be_an_identifier() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("fetch", fetch)
        .add_async_code("use", "result = 1")
        .add_connection("fetch", "items", "use", "not a name")
    )
    assert "input 'not a name' is not a valid name" in build_error(builder)


def test_an_empty_workflow_is_refused() -> None:
    assert "it has no steps" in build_error(AsyncWorkflowBuilder("w"))


def test_every_problem_is_listed_at_once() -> None:
    builder = (
        AsyncWorkflowBuilder("w")
        .add_step("a", sync_step)  # type: ignore[arg-type]
        .add_step("b", fetch)
        .add_step("b", fetch)
        .add_parameter("p")
        .add_parameter("p")
    )
    with pytest.raises(WorkflowDefinitionError) as caught:
        builder.build()
    problems = caught.value.fields["problems"]
    assert len(problems) == 3
    assert caught.value.fields["workflow"] == "w"


@pytest.mark.parametrize("timeout", [0, -1])
def test_timeouts_must_be_positive(timeout: float) -> None:
    with pytest.raises(WorkflowDefinitionError, match="step 'a' timeout"):
        AsyncWorkflowBuilder("w").add_step("a", fetch, timeout=timeout)
    with pytest.raises(WorkflowDefinitionError, match="workflow 'w' timeout"):
        AsyncWorkflowBuilder("w", timeout=timeout)


def test_a_workflow_needs_a_name() -> None:
    with pytest.raises(WorkflowDefinitionError, match="needs a name"):
        AsyncWorkflowBuilder("")


# -- RetryPolicy ------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_on", [(Exception,), (BaseException,), (ConnectionError, Exception)])
def test_retry_policy_refuses_catch_all_exceptions(
    retry_on: tuple[type[BaseException], ...],
) -> None:
    with pytest.raises(ValueError, match="retry_on must name specific exception types"):
        RetryPolicy(max_attempts=3, retry_on=retry_on)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"backoff": -1.0}, {"max_backoff": -1.0}, {"multiplier": 0.5}],
)
def test_retry_policy_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (two different messages)
        RetryPolicy(**kwargs)


def test_retry_delay_grows_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=5, backoff=1.0, multiplier=2.0, max_backoff=3.0)
    assert [policy.delay(attempt) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


# -- describe() -------------------------------------------------------------------------------


def test_describe() -> None:
    workflow = (
        AsyncWorkflowBuilder("orders", timeout=30)
        .add_parameter("region", str, description="where to look")
        .add_parameter("limit", int, default=10)
        .add_async_code("fetch", "result = {'items': [region]}", required_resources=["db"])
        .add_step("total", total, retry=RetryPolicy(max_attempts=2), timeout=1.5)
        .add_function_step("notify", "mailer")
        .add_connection("fetch", "result.items", "total", "items")
        .add_connection("total", "result", "notify", "amount")
        .build()
    )
    assert workflow.describe() == {
        "name": "orders",
        "timeout": 30,
        "required_resources": ["db"],
        "parameters": {
            "region": {"type": "str", "required": True, "description": "where to look"},
            "limit": {"type": "int", "required": False, "default": 10, "description": ""},
        },
        "steps": [
            {
                "name": "fetch",
                "kind": "code",
                "target": None,
                "depends_on": [],
                "inputs": {},
                "required_resources": ["db"],
                "timeout": None,
                "max_attempts": 1,
            },
            {
                "name": "total",
                "kind": "callable",
                "target": "total",
                "depends_on": ["fetch"],
                "inputs": {"items": {"step": "fetch", "output": "result.items"}},
                "required_resources": [],
                "timeout": 1.5,
                "max_attempts": 2,
            },
            {
                "name": "notify",
                "kind": "function",
                "target": "mailer",
                "depends_on": ["total"],
                "inputs": {"amount": {"step": "total", "output": "result"}},
                "required_resources": [],
                "timeout": None,
                "max_attempts": 1,
            },
        ],
    }


def test_code_that_never_assigns_result_is_refused_at_build() -> None:
    builder = AsyncWorkflowBuilder("w").add_async_code("quiet", "total = 1 + 1")
    with pytest.raises(ValueError, match=r"step 'quiet': its code never assigns `result`"):
        builder.build()
