"""WorkflowService: registering, running, responses, bad input, idempotency, cancel, resume
of claimed runs, resources, and no process-wide state (patches or finished runs)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lockgate.errors import (
    IdempotencyConflictError,
    InvalidParametersError,
    ResourceNotFoundError,
    RunFinishedError,
    RunNotFoundError,
    RunStoreError,
    WorkflowAlreadyRegisteredError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
)
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.models.ids import new_run_id
from lockgate.models.run import (
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    WorkflowRequest,
    WorkflowResponse,
)
from lockgate.models.workflow import Workflow
from lockgate.use_cases.resources.registry import ResourceRegistry
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder
from lockgate.use_cases.workflows.executor import WorkflowExecutor
from lockgate.use_cases.workflows.run_context import get_current_context
from lockgate.use_cases.workflows.service import WorkflowService

NODE = "node-1"
# A guard against a hang, not a timing assertion: the tests below finish in milliseconds.
GUARD = 5.0


class FakeFunctions:
    """Stands in for invoking Lockgate functions: records calls, echoes the payload."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def __call__(self, name: str, payload: Any) -> Any:
        self.calls.append((name, payload))
        return {"function": name, "payload": payload}


class Harness:
    def __init__(self) -> None:
        self.store = InMemoryRunStore()
        self.functions = FakeFunctions()
        self.resources = ResourceRegistry()
        self.executor = WorkflowExecutor(self.store, self.functions)
        self.service = WorkflowService(
            self.store,
            self.executor,
            self.resources,
            node_id=NODE,
            function_exists=lambda name: name != "undeclared",
        )
        self.counts: dict[str, int] = {}

    def counted(self, name: str, result: Any = None) -> Any:
        """An async step that counts its executions and returns ``result`` (its name if
        None)."""

        async def body(**_: Any) -> Any:
            self.counts[name] = self.counts.get(name, 0) + 1
            return name if result is None else result

        return body

    async def wait_finished(self, run_id: str) -> WorkflowResponse:
        """The run once it has finished and its task is over (a live run reports its end
        a moment before its task's done callback lets it go)."""
        async with asyncio.timeout(GUARD):
            while True:
                response = await self.service.get_run(run_id)
                if response.status.finished and run_id not in self.service._active:
                    return response
                await asyncio.sleep(0.001)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    if harness.service.started:
        await harness.service.stop(grace=1)


@pytest.fixture
async def started(harness: Harness) -> Harness:
    await harness.service.start()
    return harness


def hanging(started: asyncio.Event) -> Any:
    async def body(**_: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    return body


def stored_run(workflow_id: str, *, created_at: float | None = None) -> RunRecord:
    now = time.time() if created_at is None else created_at
    return RunRecord(
        run_id=new_run_id(),
        workflow_id=workflow_id,
        status=RunStatus.RUNNING,
        parameters={"n": 2},
        resources={},
        context={},
        idempotency_key=None,
        request_hash="hash",
        created_at=now,
        updated_at=now,
    )


# -- registering ------------------------------------------------------------------------------


def test_a_workflow_registers_once(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_async_code("a", "result = 1").build()
    harness.service.register_workflow("w", workflow)
    with pytest.raises(WorkflowAlreadyRegisteredError, match="workflow 'w' is already registered"):
        harness.service.register_workflow("w", workflow)
    assert [r.workflow_id for r in harness.service.workflows()] == ["w"]


def test_an_unbuilt_workflow_is_refused(harness: Harness) -> None:
    builder = AsyncWorkflowBuilder("w").add_async_code("a", "result = 1")
    with pytest.raises(WorkflowDefinitionError, match=r"expected a built workflow"):
        harness.service.register_workflow("w", builder)  # type: ignore[arg-type]


def test_a_function_step_must_name_a_declared_function(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_function_step("call", "undeclared").build()
    with pytest.raises(WorkflowDefinitionError) as caught:
        harness.service.register_workflow("w", workflow)
    assert "step 'call' invokes function 'undeclared', which is not declared" in str(caught.value)
    assert caught.value.fields["step"] == "call"


def test_a_registered_workflow_describes_itself(harness: Harness) -> None:
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("a", "result = 1", required_resources=["db"])
        .build()
    )
    harness.service.register_workflow("orders", workflow, ["cache"], description="Orders")
    description = harness.service.get_workflow("orders").describe()
    assert description["id"] == "orders"
    assert description["name"] == "w"
    assert description["description"] == "Orders"
    assert description["required_resources"] == ["db", "cache"]
    assert [s["name"] for s in description["steps"]] == ["a"]


async def test_an_unknown_workflow_is_named(harness: Harness) -> None:
    harness.service.register_workflow(
        "known", AsyncWorkflowBuilder("w").add_async_code("a", "result = 1").build()
    )
    with pytest.raises(WorkflowNotFoundError) as caught:
        await harness.service.execute_workflow("nope")
    assert str(caught.value) == "no workflow 'nope' is registered (registered: known)"
    assert caught.value.fields["workflow"] == "nope"


# -- running ----------------------------------------------------------------------------------


async def test_a_run_returns_results_by_step_and_step_timings(harness: Harness) -> None:
    async def total(items: list[int], factor: int) -> int:
        return sum(items) * factor

    workflow = (
        AsyncWorkflowBuilder("orders")
        .add_async_code("fetch", "result = {'items': [1, 2, 3]}")
        .add_step("total", total)
        .add_function_step("notify", "mailer")
        .add_connection("fetch", "result.items", "total", "items")
        .add_connection("total", "result", "notify", "amount")
        .build()
    )
    harness.service.register_workflow("orders", workflow)
    response = await harness.service.execute_workflow(
        "orders", WorkflowRequest(parameters={"factor": 10})
    )
    assert response.status is RunStatus.COMPLETED
    assert response.workflow_id == "orders"
    assert response.error is None
    assert response.result == {
        "fetch": {"items": [1, 2, 3]},
        "total": 60,
        "notify": {"function": "mailer", "payload": {"factor": 10, "amount": 60}},
    }
    assert list(response.steps) == ["fetch", "total", "notify"]
    for step in response.steps.values():
        assert step.status is StepStatus.COMPLETED
        assert step.duration_ms is not None
        assert step.duration_ms >= 0
    assert response.finished_at is not None
    assert response.to_dict()["steps"]["total"]["status"] == "completed"
    # The finished run is read back from the store, the same.
    assert await harness.service.get_run(response.run_id) == response
    page = await harness.service.list_runs(workflow_id="orders")
    assert [run.run_id for run in page.runs] == [response.run_id]


async def test_a_step_reads_the_request_context(harness: Harness) -> None:
    async def whoami() -> Any:
        return get_current_context().get_variable("user")

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("call", whoami)
        .add_async_code("code", "result = get_current_context().get_variable('user')")
        .build()
    )
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow("w", WorkflowRequest(context={"user": "ada"}))
    assert response.result == {"call": "ada", "code": "ada"}


async def test_a_failed_run_names_the_step_and_keeps_completed_results(
    harness: Harness,
) -> None:
    async def charge(total: int) -> None:
        raise ValueError("card declined")

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("total", "result = 42")
        .add_step("charge", charge)
        .add_step("ship", harness.counted("ship"))
        .add_connection("total", "result", "charge", "total")
        .add_connection("charge", "result", "ship", "x")
        .build()
    )
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow("w")
    assert response.status is RunStatus.FAILED
    assert response.error == "step 'charge' failed: ValueError: card declined"
    assert response.result == {"total": 42}
    assert response.steps["total"].status is StepStatus.COMPLETED
    assert response.steps["charge"].status is StepStatus.FAILED
    assert response.steps["ship"].status is StepStatus.PENDING
    assert harness.counts == {}
    assert await harness.service.get_run(response.run_id) == response


async def test_a_non_serialisable_result_fails_its_step(harness: Harness) -> None:
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("ok", "result = 1")
        .add_async_code("bad", "import datetime\nresult = datetime.date(2024, 1, 1)")
        .build()
    )
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow("w")
    assert response.status is RunStatus.FAILED
    assert response.error is not None
    assert "step 'bad' returned a result that is not JSON-serialisable" in response.error
    assert "'date'" in response.error
    assert response.result == {"ok": 1}


async def test_a_workflow_timeout_fails_the_run(harness: Harness) -> None:
    started = asyncio.Event()
    workflow = (
        AsyncWorkflowBuilder("slow", timeout=0.02)
        .add_async_code("first", "result = 1")
        .add_step("hang", hanging(started))
        .add_connection("first", "result", "hang", "x")
        .build()
    )
    harness.service.register_workflow("slow", workflow)
    async with asyncio.timeout(GUARD):
        response = await harness.service.execute_workflow("slow")
    assert response.status is RunStatus.FAILED
    assert response.error == "workflow 'slow' timed out after 0.02 s"
    assert response.result == {"first": 1}
    assert response.steps["hang"].status is StepStatus.CANCELLED


async def test_a_run_not_waited_for_is_running_then_finished(harness: Harness) -> None:
    release = asyncio.Event()

    async def gated() -> str:
        await release.wait()
        return "done"

    workflow = AsyncWorkflowBuilder("w").add_step("gated", gated).build()
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow("w", wait=False)
    assert response.status is RunStatus.RUNNING
    assert response.finished_at is None
    await asyncio.sleep(0)
    live = await harness.service.get_run(response.run_id)
    assert live.status is RunStatus.RUNNING
    assert live.steps["gated"].status is StepStatus.RUNNING
    assert harness.service.active_runs == 1
    release.set()
    finished = await harness.wait_finished(response.run_id)
    assert finished.status is RunStatus.COMPLETED
    assert finished.result == {"gated": "done"}
    assert harness.service.active_runs == 0


async def test_an_unknown_run_is_not_found(harness: Harness) -> None:
    with pytest.raises(RunNotFoundError):
        await harness.service.get_run("missing")
    with pytest.raises(RunNotFoundError):
        await harness.service.cancel_run("missing")


# -- parameters -------------------------------------------------------------------------------


@pytest.fixture
def declared(harness: Harness) -> Harness:
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_parameter("region", str)
        .add_parameter("limit", int, default=10)
        .add_parameter("ratio", float, default=1.0)
        .add_async_code("echo", "result = [region, limit, ratio]")
        .build()
    )
    harness.service.register_workflow("w", workflow)
    return harness


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({}, "parameter 'region' is required"),
        ({"region": 5}, "parameter 'region' must be str, not int"),
        ({"region": "eu", "limit": "10"}, "parameter 'limit' must be int, not str"),
        ({"region": "eu", "limit": True}, "parameter 'limit' must be int, not bool"),
        ({"region": "eu", "limit": 1.5}, "parameter 'limit' must be int, not float"),
        ({"region": "eu", "extra": 1}, "unknown parameter 'extra'"),
        ({"region": {1, 2}}, "parameters must be JSON values"),
    ],
)
async def test_bad_parameters_are_named(
    declared: Harness, parameters: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidParametersError) as caught:
        await declared.service.execute_workflow("w", WorkflowRequest(parameters=parameters))
    assert problem in str(caught.value)
    assert any(problem in p for p in caught.value.fields["problems"])
    page = await declared.service.list_runs()
    assert page.runs == ()  # nothing was recorded


async def test_defaults_fill_in_and_ints_pass_as_floats(declared: Harness) -> None:
    response = await declared.service.execute_workflow(
        "w", WorkflowRequest(parameters={"region": "eu", "ratio": 2})
    )
    assert response.status is RunStatus.COMPLETED
    assert response.result == {"echo": ["eu", 10, 2]}


async def test_undeclared_parameters_are_all_accepted(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_async_code("echo", "result = [a, b]").build()
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow(
        "w", WorkflowRequest(parameters={"a": 1, "b": [2]})
    )
    assert response.result == {"echo": [1, [2]]}


async def test_a_non_json_context_is_refused(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_async_code("a", "result = 1").build()
    harness.service.register_workflow("w", workflow)
    with pytest.raises(InvalidParametersError, match="resources and context must be JSON values"):
        await harness.service.execute_workflow("w", WorkflowRequest(context={"when": object()}))


# -- resources --------------------------------------------------------------------------------


async def test_missing_required_resources_fail_the_run_before_any_step(
    harness: Harness,
) -> None:
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("a", harness.counted("a"), required_resources=["db"])
        .add_step("b", harness.counted("b"), required_resources=["cache", "db"])
        .build()
    )
    harness.service.register_workflow("w", workflow, ["queue"])
    harness.resources.register("queue", object())
    response = await harness.service.execute_workflow("w")
    assert response.status is RunStatus.FAILED
    assert response.error == "required resources not supplied: db, cache"
    assert harness.counts == {}
    assert all(step.status is StepStatus.PENDING for step in response.steps.values())
    stored = await harness.store.get_run(response.run_id)
    assert stored is not None
    assert stored.status is RunStatus.FAILED
    assert stored.error == response.error


async def test_a_code_step_uses_an_aliased_shared_resource(harness: Harness) -> None:
    class Prices:
        async def price(self, sku: str) -> int:
            return {"apple": 3, "pear": 4}[sku]

    harness.resources.register("price_service", Prices())
    code = (
        "prices = await get_resource('prices')\n"
        "result = {sku: await prices.price(sku) * quantity for sku in skus}\n"
    )
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("skus", "result = {'skus': ['apple', 'pear']}")
        .add_async_code("price", code, required_resources=["prices"])
        .add_connection("skus", "result.skus", "price", "skus")
        .build()
    )
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow(
        "w",
        WorkflowRequest(parameters={"quantity": 2}, resources={"prices": "@price_service"}),
    )
    assert response.status is RunStatus.COMPLETED, response.error
    assert response.result["price"] == {"apple": 6, "pear": 8}


async def test_an_alias_of_an_unregistered_resource_is_refused_before_the_run(
    harness: Harness,
) -> None:
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("use", "result = await get_resource('db')", required_resources=["db"])
        .build()
    )
    harness.service.register_workflow("w", workflow)
    with pytest.raises(ResourceNotFoundError, match="'@nowhere', which is not registered"):
        await harness.service.execute_workflow("w", WorkflowRequest(resources={"db": "@nowhere"}))
    assert not (await harness.service.list_runs()).runs


# -- idempotency ------------------------------------------------------------------------------


async def test_the_same_key_and_request_return_the_same_run_without_rerunning(
    harness: Harness,
) -> None:
    workflow = AsyncWorkflowBuilder("w").add_step("a", harness.counted("a")).build()
    harness.service.register_workflow("w", workflow)
    request = WorkflowRequest(parameters={"n": 1}, context={"u": "x"}, idempotency_key="k1")
    first = await harness.service.execute_workflow("w", request)
    again = await harness.service.execute_workflow(
        "w", WorkflowRequest(parameters={"n": 1}, context={"u": "x"}, idempotency_key="k1")
    )
    assert first.status is RunStatus.COMPLETED
    assert again.run_id == first.run_id
    assert again.result == first.result == {"a": "a"}
    assert harness.counts == {"a": 1}


async def test_the_same_key_while_running_waits_for_the_same_run(harness: Harness) -> None:
    release = asyncio.Event()

    async def gated() -> str:
        await release.wait()
        return "done"

    workflow = AsyncWorkflowBuilder("w").add_step("gated", gated).build()
    harness.service.register_workflow("w", workflow)
    request = WorkflowRequest(idempotency_key="k")
    first = await harness.service.execute_workflow("w", request, wait=False)
    assert first.status is RunStatus.RUNNING
    waiting = asyncio.create_task(harness.service.execute_workflow("w", request))
    await asyncio.sleep(0)
    release.set()
    async with asyncio.timeout(GUARD):
        again = await waiting
    assert again.run_id == first.run_id
    assert again.status is RunStatus.COMPLETED
    assert (await harness.service.list_runs()).runs[0].run_id == first.run_id
    assert len((await harness.service.list_runs()).runs) == 1


@pytest.mark.parametrize(
    "second",
    [
        WorkflowRequest(parameters={"n": 2}, idempotency_key="k"),
        WorkflowRequest(parameters={"n": 1}, context={"u": "y"}, idempotency_key="k"),
        WorkflowRequest(parameters={"n": 1}, resources={"db": "@queue"}, idempotency_key="k"),
    ],
)
async def test_the_same_key_with_a_different_request_conflicts(
    harness: Harness, second: WorkflowRequest
) -> None:
    harness.resources.register("queue", object())
    workflow = AsyncWorkflowBuilder("w").add_step("a", harness.counted("a")).build()
    harness.service.register_workflow("w", workflow)
    first = await harness.service.execute_workflow(
        "w", WorkflowRequest(parameters={"n": 1}, idempotency_key="k")
    )
    with pytest.raises(IdempotencyConflictError) as caught:
        await harness.service.execute_workflow("w", second)
    assert "idempotency key 'k'" in str(caught.value)
    assert caught.value.fields["run_id"] == first.run_id
    assert harness.counts == {"a": 1}


# -- cancel -----------------------------------------------------------------------------------


async def test_cancelling_a_running_run(harness: Harness) -> None:
    started = asyncio.Event()
    workflow = (
        AsyncWorkflowBuilder("w")
        .add_async_code("first", "result = 1")
        .add_step("hang", hanging(started))
        .add_step("after", harness.counted("after"))
        .add_connection("first", "result", "hang", "x")
        .add_connection("hang", "result", "after", "x")
        .build()
    )
    harness.service.register_workflow("w", workflow)
    running = await harness.service.execute_workflow("w", wait=False)
    async with asyncio.timeout(GUARD):
        await started.wait()
    cancelled = await harness.service.cancel_run(running.run_id)
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.error == "the run was cancelled"
    assert cancelled.result == {"first": 1}
    assert cancelled.steps["hang"].status is StepStatus.CANCELLED
    assert cancelled.steps["after"].status is StepStatus.PENDING
    assert harness.counts == {}
    assert harness.service.active_runs == 0
    assert await harness.service.get_run(running.run_id) == cancelled
    with pytest.raises(RunFinishedError, match="already finished \\(cancelled\\)"):
        await harness.service.cancel_run(running.run_id)


async def test_cancelling_a_finished_run_is_refused(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_async_code("a", "result = 1").build()
    harness.service.register_workflow("w", workflow)
    response = await harness.service.execute_workflow("w")
    with pytest.raises(RunFinishedError) as caught:
        await harness.service.cancel_run(response.run_id)
    assert "already finished (completed)" in str(caught.value)
    assert caught.value.fields["run_id"] == response.run_id
    assert (await harness.service.get_run(response.run_id)).status is RunStatus.COMPLETED


async def test_cancelling_an_unfinished_run_no_node_executes(harness: Harness) -> None:
    workflow = AsyncWorkflowBuilder("w").add_async_code("a", "result = 1").build()
    harness.service.register_workflow("w", workflow)
    run = stored_run("w")
    await harness.store.create_run(run, owner="other-node", lease_seconds=30)
    cancelled = await harness.service.cancel_run(run.run_id)
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.steps["a"].status is StepStatus.PENDING


# -- resume -----------------------------------------------------------------------------------


def resumable(harness: Harness) -> Workflow:
    async def second(n: int, x: int) -> int:
        harness.counts["second"] = harness.counts.get("second", 0) + 1
        return x * n

    return (
        AsyncWorkflowBuilder("resumable")
        .add_step("first", harness.counted("first", result={"x": 5}))
        .add_step("second", second)
        .add_step("third", harness.counted("third"))
        .add_connection("first", "result.x", "second", "x")
        .add_connection("second", "result", "third", "y")
        .build()
    )


async def record_first_step(store: InMemoryRunStore, run: RunRecord, *, owner: str) -> None:
    await store.create_run(run, owner=owner, lease_seconds=30)
    record = StepRecord("first", StepStatus.COMPLETED, output={"x": 7}, attempts=1)
    await store.save_step(run.run_id, (record, b'{"x": 7}'))


async def test_start_resumes_an_unfinished_run_from_its_committed_steps(
    harness: Harness,
) -> None:
    harness.service.register_workflow("resumable", resumable(harness))
    run = stored_run("resumable")
    await record_first_step(harness.store, run, owner=NODE)
    await harness.service.start()
    response = await harness.wait_finished(run.run_id)
    assert response.status is RunStatus.COMPLETED, response.error
    assert harness.counts == {"second": 1, "third": 1}
    assert response.result == {"first": {"x": 7}, "second": 14, "third": "third"}
    assert harness.service.active_runs == 0


async def test_start_takes_over_a_run_whose_owner_lease_expired(harness: Harness) -> None:
    harness.service.register_workflow("resumable", resumable(harness))
    expired = stored_run("resumable", created_at=time.time() - 120)
    held = stored_run("resumable")
    await record_first_step(harness.store, expired, owner="dead-node")
    await record_first_step(harness.store, held, owner="live-node")
    await harness.service.start()
    response = await harness.wait_finished(expired.run_id)
    assert response.status is RunStatus.COMPLETED
    assert harness.counts == {"second": 1, "third": 1}
    # The run another node still holds is left to it.
    assert (await harness.service.get_run(held.run_id)).status is RunStatus.RUNNING
    assert harness.service.active_runs == 0


async def test_a_claimed_run_waits_for_its_workflow_to_be_registered(harness: Harness) -> None:
    run = stored_run("resumable")
    await record_first_step(harness.store, run, owner=NODE)
    await harness.service.start()
    assert harness.service.active_runs == 0
    harness.service.register_workflow("resumable", resumable(harness))
    response = await harness.wait_finished(run.run_id)
    assert response.status is RunStatus.COMPLETED
    assert harness.counts == {"second": 1, "third": 1}


# -- nothing process-wide ---------------------------------------------------------------------


def process_wide() -> tuple[object, ...]:
    """What a patching implementation would replace to tell runs apart."""
    return (
        asyncio.create_task,
        asyncio.tasks.create_task,
        asyncio.ensure_future,
        asyncio.Task,
        type(asyncio.get_running_loop()).create_task,
        asyncio.gather,
        asyncio.wait,
    )


async def test_many_concurrent_runs_patch_nothing_and_leave_nothing_behind(
    started: Harness,
) -> None:
    service = started.service
    before = process_wide()

    async def whoami() -> Any:
        await asyncio.sleep(0)
        return get_current_context().get_variable("user")

    workflow = (
        AsyncWorkflowBuilder("w")
        .add_step("a", whoami)
        .add_async_code("b", "result = get_current_context().get_variable('user')")
        .build()
    )
    service.register_workflow("w", workflow)
    async with asyncio.timeout(GUARD):
        responses = await asyncio.gather(
            *(
                service.execute_workflow("w", WorkflowRequest(context={"user": i}))
                for i in range(200)
            )
        )
    after = process_wide()
    assert all(b is a for b, a in zip(before, after, strict=True))
    for i, response in enumerate(responses):
        assert response.status is RunStatus.COMPLETED
        assert response.result == {"a": i, "b": i}
    assert len({r.run_id for r in responses}) == 200
    # Finished runs live in the store only.
    assert service.active_runs == 0


async def test_the_heartbeat_deletes_runs_past_their_retention() -> None:
    store = InMemoryRunStore()
    service = WorkflowService(
        store,
        WorkflowExecutor(store, FakeFunctions()),
        ResourceRegistry(),
        node_id=NODE,
        lease_seconds=0.03,  # a beat every 10 ms, a purge every 30 ms
        retention=0.001,
    )
    workflow = AsyncWorkflowBuilder("w").add_async_code("s", "result = 1").build()
    service.register_workflow("w", workflow)
    await service.start()
    try:
        response = await service.execute_workflow("w")
        assert response.status is RunStatus.COMPLETED
        async with asyncio.timeout(GUARD):
            while True:
                await asyncio.sleep(0.005)
                if await store.get_run(response.run_id) is None:
                    break
        with pytest.raises(RunNotFoundError):
            await service.get_run(response.run_id)
    finally:
        await service.stop(grace=1)


async def test_a_run_cancelled_before_its_task_started_is_recorded_cancelled(
    started: Harness,
) -> None:
    started.service.register_workflow(
        "w", AsyncWorkflowBuilder("w").add_step("s", started.counted("s")).build()
    )
    response = await started.service.execute_workflow("w", wait=False)
    cancelled = await started.service.cancel_run(response.run_id)  # before the task ran
    assert cancelled.status is RunStatus.CANCELLED
    stored = await started.store.get_run(response.run_id)
    assert stored is not None
    assert stored.status is RunStatus.CANCELLED
    assert started.counts == {}


async def test_a_store_failure_stops_the_runs_other_steps(started: Harness) -> None:
    class FlakyStore(InMemoryRunStore):
        async def save_step(self, run_id: str, step: Any) -> None:
            if step[0].name == "a":
                raise RunStoreError("disk full")
            await super().save_step(run_id, step)

    store = FlakyStore()
    service = WorkflowService(
        store, WorkflowExecutor(store, FakeFunctions()), ResourceRegistry(), node_id=NODE
    )
    slow_started = asyncio.Event()
    slow_cancelled = asyncio.Event()

    async def fast() -> int:
        return 1

    async def slow() -> int:
        slow_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            slow_cancelled.set()
            raise
        return 2

    workflow = AsyncWorkflowBuilder("w").add_step("a", fast).add_step("b", slow).build()
    service.register_workflow("w", workflow)
    await service.start()
    try:
        async with asyncio.timeout(GUARD):
            with pytest.raises(RunStoreError, match="disk full"):
                await service.execute_workflow("w")
            # No step of the run goes on once it may be claimed and relaunched.
            assert slow_started.is_set()
            await slow_cancelled.wait()
        assert service.active_runs == 0
    finally:
        await service.stop(grace=1)


async def test_a_run_cancelled_by_another_node_is_stopped_here_by_the_heartbeat() -> None:
    store = InMemoryRunStore()

    def node(name: str) -> WorkflowService:
        return WorkflowService(
            store,
            WorkflowExecutor(store, FakeFunctions()),
            ResourceRegistry(),
            node_id=name,
            lease_seconds=0.03,  # a heartbeat every 10 ms
        )

    executing, other = node("a"), node("b")
    began, stopped = asyncio.Event(), asyncio.Event()

    async def long_step() -> None:
        began.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    for service in (executing, other):
        service.register_workflow("w", AsyncWorkflowBuilder("w").add_step("s", long_step).build())
        await service.start()
    try:
        response = await executing.execute_workflow("w", wait=False)
        async with asyncio.timeout(GUARD):
            await began.wait()
            cancelled = await other.cancel_run(response.run_id)  # not executing on "b"
            assert cancelled.status is RunStatus.CANCELLED
            await stopped.wait()  # "a" noticed at its next heartbeat
        stored = await store.get_run(response.run_id)
        assert stored is not None
        assert stored.status is RunStatus.CANCELLED
    finally:
        await other.stop(grace=1)
        await executing.stop(grace=1)
