"""WorkflowExecutor: step kinds, inputs by path, concurrency of independent steps, the
commit-before-dependent invariant, failures, retries, timeouts, cancellation and resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from lockgate.errors import ResourceNotFoundError
from lockgate.gateways.interfaces import StepWrite
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.models.ids import new_run_id
from lockgate.models.run import RunRecord, RunStatus, StepRecord, StepStatus
from lockgate.models.workflow import RetryPolicy, Workflow
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder
from lockgate.use_cases.workflows.executor import WorkflowExecutor
from lockgate.use_cases.workflows.live_run import LiveRun
from lockgate.use_cases.workflows.run_context import get_current_context, get_resource

# A guard against a hang (a step that waits on something that never comes), not a timing
# assertion: the tests below finish in milliseconds.
GUARD = 5.0


class FakeFunctions:
    """Stands in for invoking Lockgate functions: records calls, echoes the payload."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def __call__(self, name: str, payload: Any) -> Any:
        self.calls.append((name, payload))
        if name == "broken":
            raise RuntimeError("handler raised KeyError: 'id'")
        return {"function": name, "payload": payload}


class RecordingStore(InMemoryRunStore):
    """Records commits beside the steps' own ``start`` events; every commit yields to the
    loop before it lands, so a dependent started before its dependency's commit returned
    would show up in ``events`` ahead of the commit's end."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    async def save_step(self, run_id: str, step: StepWrite) -> None:
        self.events.append(f"save {step[0].name}")
        await asyncio.sleep(0)
        await super().save_step(run_id, step)
        self.events.append(f"saved {step[0].name}")

    async def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None,
        steps: Sequence[StepWrite],
        at: float,
    ) -> bool:
        names = sorted(write[0].name for write in steps)
        self.events.append(f"finish {status.value} {names}")
        await asyncio.sleep(0)
        finished = await super().finish_run(run_id, status, error, steps, at)
        self.events.append("finished")
        return finished


async def no_resources(name: str) -> Any:
    raise ResourceNotFoundError(f"resource {name!r} was not given to this run", name=name)


async def new_live_run(
    store: InMemoryRunStore,
    *,
    parameters: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    deadline: float | None = None,
) -> LiveRun:
    now = time.time()
    run = RunRecord(
        run_id=new_run_id(),
        workflow_id="wf",
        status=RunStatus.RUNNING,
        parameters=dict(parameters or {}),
        resources={},
        context=dict(context or {}),
        idempotency_key=None,
        request_hash="hash",
        created_at=now,
        updated_at=now,
        deadline=deadline,
    )
    await store.create_run(run, owner="node", lease_seconds=30)
    return LiveRun(run)


class Harness:
    def __init__(self, store: InMemoryRunStore | None = None) -> None:
        self.store = store or InMemoryRunStore()
        self.functions = FakeFunctions()
        self.executor = WorkflowExecutor(self.store, self.functions)

    async def run(
        self,
        workflow: Workflow,
        *,
        lookup: Any = no_resources,
        **run_fields: Any,
    ) -> tuple[LiveRun, RunRecord]:
        """Execute a new run to its end; the live run and what the store committed."""
        live = await new_live_run(self.store, **run_fields)
        async with asyncio.timeout(GUARD):
            status = await self.executor.execute(workflow, live, lookup)
        stored = await self.store.get_run(live.run.run_id)
        assert stored is not None
        assert status is live.status is stored.status
        assert stored.error == live.error
        return live, stored


@pytest.fixture
def harness() -> Harness:
    return Harness()


def outputs(record: RunRecord) -> dict[str, Any]:
    return {
        name: step.output
        for name, step in record.steps.items()
        if step.status is StepStatus.COMPLETED
    }


# -- step kinds and inputs --------------------------------------------------------------------


async def test_a_chain_of_every_step_kind_completes(harness: Harness) -> None:
    async def double(values: list[int]) -> list[int]:
        return [v * 2 for v in values]

    workflow = (
        AsyncWorkflowBuilder("chain")
        .add_async_code("load", "result = {'values': list(range(start, start + 3))}")
        .add_step("double", double)
        .add_function_step("store", "saver")
        .add_connection("load", "result.values", "double", "values")
        .add_connection("double", "result", "store", "doubled")
        .build()
    )
    live, stored = await harness.run(workflow, parameters={"start": 1})
    assert stored.status is RunStatus.COMPLETED
    assert stored.error is None
    assert outputs(stored) == {
        "load": {"values": [1, 2, 3]},
        "double": [2, 4, 6],
        "store": {"function": "saver", "payload": {"start": 1, "doubled": [2, 4, 6]}},
    }
    assert harness.functions.calls == [("saver", {"start": 1, "doubled": [2, 4, 6]})]
    for record in stored.steps.values():
        assert record.attempts == 1
        assert record.started_at is not None
        assert record.finished_at is not None
        assert record.finished_at >= record.started_at
    assert live.snapshot().steps == stored.steps


async def test_output_paths_select_from_the_result(harness: Harness) -> None:
    async def source() -> dict[str, Any]:
        return {"items": [1, 2], "meta": {"count": 2}}

    async def take(**inputs: Any) -> Any:
        return inputs

    workflow = (
        AsyncWorkflowBuilder("paths")
        .add_step("source", source)
        .add_step("take", take)
        .add_connection("source", "result.items", "take", "prefixed")
        .add_connection("source", "items", "take", "bare")
        .add_connection("source", "result", "take", "whole")
        .add_connection("source", "meta.count", "take", "nested")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert outputs(stored)["take"] == {
        "prefixed": [1, 2],
        "bare": [1, 2],
        "whole": {"items": [1, 2], "meta": {"count": 2}},
        "nested": 2,
    }


async def test_a_missing_key_names_the_step_the_input_and_the_keys(harness: Harness) -> None:
    ran: list[str] = []

    async def take(rows: Any) -> Any:
        ran.append("take")
        return rows

    workflow = (
        AsyncWorkflowBuilder("paths")
        .add_async_code("source", "result = {'items': [1], 'meta': {}}")
        .add_step("take", take)
        .add_connection("source", "result.rows", "take", "rows")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    error = stored.steps["take"].error
    assert error is not None
    assert error == stored.error
    assert "step 'take'" in error
    assert "input 'rows'" in error
    assert "result.rows of step 'source'" in error
    assert "'items', 'meta'" in error
    assert ran == []
    assert outputs(stored) == {"source": {"items": [1], "meta": {}}}


async def test_a_path_through_a_non_object_says_what_it_found(harness: Harness) -> None:
    workflow = (
        AsyncWorkflowBuilder("paths")
        .add_async_code("source", "result = {'items': [1, 2]}")
        .add_async_code("take", "result = n")
        .add_connection("source", "items.first", "take", "n")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None
    assert "result.items has no 'first' (a list)" in stored.error


async def test_a_callable_gets_the_parameters_it_names_and_inputs_win(harness: Harness) -> None:
    seen: dict[str, Any] = {}

    async def pick(limit: int, region: str) -> None:
        seen.update(limit=limit, region=region)

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("source", "result = 'from-input'")
        .add_step("pick", pick)
        .add_connection("source", "result", "pick", "region")
        .build()
    )
    _, stored = await harness.run(workflow, parameters={"limit": 3, "region": "p", "other": 1})
    assert stored.status is RunStatus.COMPLETED
    assert seen == {"limit": 3, "region": "from-input"}
    assert outputs(stored)["pick"] is None


async def test_a_code_step_reads_parameters_inputs_context_and_resources(
    harness: Harness,
) -> None:
    resources = {"db": {"rate": 10}}

    async def lookup(name: str) -> Any:
        return resources[name]

    code = (
        "import asyncio\n"
        "await asyncio.sleep(0)\n"
        "db = await get_resource('db')\n"
        "context = get_current_context()\n"
        "result = {\n"
        "    'total': sum(items) * db['rate'] + bonus,\n"
        "    'user': context.get_variable('user'),\n"
        "    'missing': context.get_variable('nope', 'default'),\n"
        "    'step': context.step,\n"
        "    'attempt': context.attempt,\n"
        "}\n"
    )
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("source", "result = {'items': [1, 2]}")
        .add_async_code("price", code, required_resources=["db"])
        .add_connection("source", "items", "price", "items")
        .build()
    )
    _, stored = await harness.run(
        workflow, lookup=lookup, parameters={"bonus": 5}, context={"user": "ada"}
    )
    assert stored.status is RunStatus.COMPLETED, stored.error
    assert outputs(stored)["price"] == {
        "total": 35,
        "user": "ada",
        "missing": "default",
        "step": "price",
        "attempt": 1,
    }


async def test_a_code_step_that_does_not_assign_result_fails_clearly(harness: Harness) -> None:
    # Assigns it only on a path not taken (code that never assigns it is refused at build).
    code = "if len([]):\n    result = 1"
    workflow = AsyncWorkflowBuilder("w").add_async_code("quiet", code).build()
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 'quiet' finished without assigning `result`"
    assert stored.steps["quiet"].status is StepStatus.FAILED


async def test_an_unknown_resource_fails_the_step(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_async_code("s", "result = await get_resource('db')")
    _, stored = await harness.run(workflow.build())
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None
    assert "step 's' failed: ResourceNotFoundError" in stored.error
    assert "'db'" in stored.error


def test_context_and_resources_are_refused_outside_a_step() -> None:
    with pytest.raises(RuntimeError, match="only available inside a workflow step"):
        get_current_context()


async def test_get_resource_is_refused_outside_a_step() -> None:
    with pytest.raises(RuntimeError, match="only available inside a workflow step"):
        await get_resource("db")


async def test_concurrent_runs_each_see_their_own_context(harness: Harness) -> None:
    async def whoami() -> Any:
        await asyncio.sleep(0)
        return get_current_context().get_variable("user")

    workflow = AsyncWorkflowBuilder("w").add_step("a", whoami).add_step("b", whoami).build()
    runs = await asyncio.gather(
        *(harness.run(workflow, context={"user": f"u{i}"}) for i in range(20))
    )
    for i, (_, stored) in enumerate(runs):
        assert outputs(stored) == {"a": f"u{i}", "b": f"u{i}"}


# -- concurrency and commits ------------------------------------------------------------------


async def test_independent_steps_overlap(harness: Harness) -> None:
    """Each step waits for an event only the other one sets: run one after the other they
    would wait forever (the guard would end the test with a TimeoutError)."""
    left_ready, right_ready = asyncio.Event(), asyncio.Event()

    async def left() -> str:
        left_ready.set()
        await right_ready.wait()
        return "left"

    async def right() -> str:
        right_ready.set()
        await left_ready.wait()
        return "right"

    async def join(a: str, b: str) -> str:
        return a + "+" + b

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("left", left)
        .add_step("right", right)
        .add_step("join", join)
        .add_connection("left", "result", "join", "a")
        .add_connection("right", "result", "join", "b")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.COMPLETED
    assert outputs(stored)["join"] == "left+right"


def assert_committed_before_dependents(events: list[str], workflow: Workflow) -> None:
    for name, step in workflow.steps.items():
        started = events.index(f"start {name}")
        for dependency in step.depends_on:
            assert events.index(f"saved {dependency}") < started, (name, dependency, events)


async def test_a_chain_commits_each_step_before_the_next_starts() -> None:
    store = RecordingStore()
    harness = Harness(store)

    def step(name: str) -> Any:
        async def body(**_: Any) -> str:
            store.events.append(f"start {name}")
            await asyncio.sleep(0)
            return name

        return body

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("a", step("a"))
        .add_step("b", step("b"))
        .add_step("c", step("c"))
        .add_connection("a", "result", "b", "x")
        .add_connection("b", "result", "c", "x")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.COMPLETED
    assert store.events == [
        "start a",
        "save a",
        "saved a",
        "start b",
        "save b",
        "saved b",
        "start c",
        # The last step is committed with the run's status, in one write.
        "finish completed ['c']",
        "finished",
    ]


async def test_a_diamond_commits_dependencies_before_dependents() -> None:
    store = RecordingStore()
    harness = Harness(store)

    def step(name: str) -> Any:
        async def body(**_: Any) -> str:
            store.events.append(f"start {name}")
            await asyncio.sleep(0)
            return name

        return body

    builder = AsyncWorkflowBuilder("w")
    for name in ("a", "b", "c", "d", "e"):
        builder.add_step(name, step(name))
    workflow = (
        builder.add_connection("a", "result", "b", "x")
        .add_connection("a", "result", "c", "x")
        .add_connection("b", "result", "d", "x")
        .add_connection("c", "result", "d", "y")
        .add_connection("d", "result", "e", "x")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.COMPLETED
    assert_committed_before_dependents(store.events, workflow)
    assert store.events[-2:] == ["finish completed ['e']", "finished"]
    assert set(outputs(stored)) == {"a", "b", "c", "d", "e"}


# -- failures ---------------------------------------------------------------------------------


async def test_a_step_that_raises_fails_the_run_and_keeps_completed_steps(
    harness: Harness,
) -> None:
    ran: list[str] = []

    async def charge(total: int) -> None:
        raise ValueError(f"card declined for {total}")

    async def ship(**_: Any) -> None:
        ran.append("ship")

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("total", "result = 42")
        .add_step("charge", charge)
        .add_step("ship", ship)
        .add_connection("total", "result", "charge", "total")
        .add_connection("charge", "result", "ship", "x")
        .build()
    )
    live, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 'charge' failed: ValueError: card declined for 42"
    assert outputs(stored) == {"total": 42}
    assert stored.steps["charge"].status is StepStatus.FAILED
    assert stored.steps["charge"].attempts == 1
    assert "ship" not in stored.steps
    assert ran == []
    assert live.snapshot().status is RunStatus.FAILED


async def test_a_failure_lets_steps_in_flight_finish_but_starts_no_more(
    harness: Harness,
) -> None:
    release = asyncio.Event()
    ran: list[str] = []

    async def slow() -> str:
        await release.wait()
        return "slow"

    async def boom() -> None:
        release.set()
        raise ConnectionError("refused")

    async def after(**_: Any) -> None:
        ran.append("after")

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("slow", slow)
        .add_step("boom", boom)
        .add_step("after", after)
        .add_connection("slow", "result", "after", "x")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 'boom' failed: ConnectionError: refused"
    assert outputs(stored) == {"slow": "slow"}
    assert ran == []


async def test_a_non_serialisable_result_fails_the_step(harness: Harness) -> None:
    async def make_set() -> set[int]:
        return {1, 2}

    workflow = (
        AsyncWorkflowBuilder("w").add_async_code("ok", "result = 1").add_step("bad", make_set)
    )
    _, stored = await harness.run(workflow.build())
    assert stored.status is RunStatus.FAILED
    assert stored.error is not None
    assert stored.error.startswith("step 'bad' returned a result that is not JSON-serialisable")
    assert "'set'" in stored.error
    assert outputs(stored) == {"ok": 1}


async def test_a_result_over_the_size_limit_fails_the_step() -> None:
    store = InMemoryRunStore()
    harness = Harness(store)
    harness.executor = WorkflowExecutor(store, harness.functions, max_output_bytes=1024)
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("small", "result = 'x' * 1000")
        .add_async_code("big", "result = 'x' * 2000")
        .build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == (
        "step 'big' returned 2,002 bytes of JSON; the limit is 1,024 (max_step_output_bytes): "
        "store large data elsewhere and return a reference to it"
    )
    assert outputs(stored) == {"small": "x" * 1000}


async def test_a_function_step_error_names_the_step(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_function_step("call", "broken").build()
    _, stored = await harness.run(workflow, parameters={"id": 1})
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 'call' failed: RuntimeError: handler raised KeyError: 'id'"
    assert harness.functions.calls == [("broken", {"id": 1})]


# -- retries and timeouts ---------------------------------------------------------------------


def flaky(failures: list[BaseException], attempts: list[int]) -> Any:
    async def body() -> str:
        attempts.append(get_current_context().attempt)
        if failures:
            raise failures.pop(0)
        return "ok"

    return body


async def test_a_matching_error_is_retried_until_it_succeeds(harness: Harness) -> None:
    attempts: list[int] = []
    policy = RetryPolicy(max_attempts=3, backoff=0.0, retry_on=(ConnectionError,))
    body = flaky([ConnectionError("a"), ConnectionResetError("b")], attempts)
    workflow = AsyncWorkflowBuilder("w").add_step("s", body, retry=policy).build()
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.COMPLETED
    assert attempts == [1, 2, 3]
    assert stored.steps["s"].attempts == 3
    assert outputs(stored) == {"s": "ok"}


async def test_retries_stop_at_max_attempts(harness: Harness) -> None:
    attempts: list[int] = []
    policy = RetryPolicy(max_attempts=2, backoff=0.001, retry_on=(ConnectionError,))
    body = flaky([ConnectionError("1"), ConnectionError("2"), ConnectionError("3")], attempts)
    workflow = AsyncWorkflowBuilder("w").add_step("s", body, retry=policy).build()
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 's' failed: ConnectionError: 2"
    assert attempts == [1, 2]
    assert stored.steps["s"].attempts == 2


async def test_a_non_matching_error_fails_at_once(harness: Harness) -> None:
    attempts: list[int] = []
    policy = RetryPolicy(max_attempts=5, backoff=0.0, retry_on=(ConnectionError,))
    body = flaky([KeyError("id")], attempts)
    workflow = AsyncWorkflowBuilder("w").add_step("s", body, retry=policy).build()
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 's' failed: KeyError: 'id'"
    assert attempts == [1]
    assert stored.steps["s"].attempts == 1


async def test_a_step_timeout_fails_the_step_naming_it(harness: Harness) -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    workflow = AsyncWorkflowBuilder("w").add_step("hang", hang, timeout=0.01).build()
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 'hang' timed out after 0.01 s"
    assert stored.steps["hang"].status is StepStatus.FAILED


async def test_a_step_timeout_is_retried_when_the_policy_says_so(harness: Harness) -> None:
    attempts: list[int] = []

    async def slow_once() -> str:
        attempts.append(get_current_context().attempt)
        if len(attempts) == 1:
            await asyncio.Event().wait()
        return "ok"

    policy = RetryPolicy(max_attempts=2, backoff=0.0, retry_on=(TimeoutError,))
    workflow = (
        AsyncWorkflowBuilder("w").add_step("s", slow_once, retry=policy, timeout=0.01).build()
    )
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.COMPLETED
    assert attempts == [1, 2]
    assert stored.steps["s"].attempts == 2


async def test_the_workflow_timeout_fails_the_run_and_cancels_running_steps(
    harness: Harness,
) -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    workflow = (
        AsyncWorkflowBuilder("slow", timeout=0.02)
        .add_async_code("first", "result = 1")
        .add_step("hang1", hang)
        .add_step("hang2", hang)
        .build()
    )
    _, stored = await harness.run(workflow, deadline=time.time() + 0.02)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "workflow 'slow' timed out after 0.02 s"
    assert outputs(stored) == {"first": 1}
    for name in ("hang1", "hang2"):
        assert stored.steps[name].status is StepStatus.CANCELLED
        assert stored.steps[name].error == stored.error


async def test_a_deadline_already_past_fails_the_run_without_running_steps(
    harness: Harness,
) -> None:
    ran: list[str] = []

    async def step() -> None:
        ran.append("step")

    workflow = AsyncWorkflowBuilder("w", timeout=1).add_step("s", step).build()
    # As a run resumed after an outage longer than its timeout: the step must not start
    # (asyncio.timeout_at alone would only fire at the step's first await).
    _, stored = await harness.run(workflow, deadline=time.time() - 1)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "workflow 'w' timed out after 1 s"
    assert ran == []
    assert stored.steps == {}


# -- cancellation and resume ------------------------------------------------------------------


async def test_a_requested_cancel_cancels_the_run_and_its_running_steps(
    harness: Harness,
) -> None:
    started = asyncio.Event()
    count = 0

    async def hang() -> None:
        nonlocal count
        count += 1
        if count == 2:
            started.set()
        await asyncio.Event().wait()

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("first", "result = 1")
        .add_step("a", hang)
        .add_step("b", hang)
        .build()
    )
    live = await new_live_run(harness.store)
    task = asyncio.create_task(harness.executor.execute(workflow, live, no_resources))
    async with asyncio.timeout(GUARD):
        await started.wait()
    live.cancel_requested = True
    task.cancel()
    assert await task is RunStatus.CANCELLED
    stored = await harness.store.get_run(live.run.run_id)
    assert stored is not None
    assert stored.status is RunStatus.CANCELLED
    assert stored.error == "the run was cancelled"
    assert stored.steps["first"].status is StepStatus.COMPLETED
    assert stored.steps["a"].status is StepStatus.CANCELLED
    assert stored.steps["b"].status is StepStatus.CANCELLED
    assert live.snapshot().steps["a"].status is StepStatus.CANCELLED


async def test_a_shutdown_leaves_the_run_unfinished_to_resume(harness: Harness) -> None:
    started = asyncio.Event()

    async def hang(**_: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("first", "result = 1")
        .add_async_code("second", "result = 2")
        .add_step("hang", hang)
        .add_connection("first", "result", "hang", "x")
        .add_connection("second", "result", "hang", "y")
        .build()
    )
    live = await new_live_run(harness.store)
    task = asyncio.create_task(harness.executor.execute(workflow, live, no_resources))
    async with asyncio.timeout(GUARD):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await harness.store.get_run(live.run.run_id)
    assert stored is not None
    assert stored.status is RunStatus.RUNNING
    assert outputs(stored) == {"first": 1, "second": 2}
    assert "hang" not in stored.steps


async def test_a_resumed_run_skips_its_committed_steps(harness: Harness) -> None:
    runs: list[str] = []

    def step(name: str) -> Any:
        async def body(**inputs: Any) -> Any:
            runs.append(name)
            return {"name": name, "inputs": inputs}

        return body

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("a", step("a"))
        .add_step("b", step("b"))
        .add_step("c", step("c"))
        .add_connection("a", "result.name", "b", "x")
        .add_connection("b", "result.name", "c", "x")
        .build()
    )
    live = await new_live_run(harness.store)
    committed = StepRecord("a", StepStatus.COMPLETED, output={"name": "A"}, attempts=1)
    await harness.store.save_step(live.run.run_id, (committed, b'{"name": "A"}'))
    resumed = await harness.store.get_run(live.run.run_id)
    assert resumed is not None
    live = LiveRun(resumed)
    assert await harness.executor.execute(workflow, live, no_resources) is RunStatus.COMPLETED
    assert runs == ["b", "c"]
    stored = await harness.store.get_run(live.run.run_id)
    assert stored is not None
    assert outputs(stored) == {
        "a": {"name": "A"},
        "b": {"name": "b", "inputs": {"x": "A"}},
        "c": {"name": "c", "inputs": {"x": "b"}},
    }


async def test_a_timeout_error_the_step_raises_itself_is_reported_as_such(
    harness: Harness,
) -> None:
    async def flaky() -> dict[str, int]:
        raise TimeoutError("upstream said so")

    workflow = AsyncWorkflowBuilder("own").add_step("call", flaky, timeout=5).build()
    _, stored = await harness.run(workflow)
    assert stored.status is RunStatus.FAILED
    assert stored.error == "step 'call' failed: TimeoutError: upstream said so"
