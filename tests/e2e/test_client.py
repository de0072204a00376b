"""The client SDK against a real gateway process: every method, every error class, and the
parsing of the server's own responses (the peer's client could not parse its server's)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lockgate.client import (
    Client,
    ClientError,
    Conflict,
    FunctionError,
    FunctionNotFound,
    GatewayUnavailable,
    InvalidRequest,
    InvalidResponse,
    RunList,
    RunNotFound,
    RunSummary,
    StepInfo,
    WaitTimeout,
    WorkflowNotFound,
    WorkflowResult,
)
from tests.e2e.gateway_process import GatewayProcess
from tests.servers import free_port


@pytest.fixture
async def client(gateway: GatewayProcess) -> AsyncIterator[Client]:
    async with Client(gateway.url, timeout=30) as sdk:
        yield sdk


# --- running workflows ----------------------------------------------------------------------


async def test_execute_workflow_returns_the_finished_run(client: Client) -> None:
    result = await client.execute_workflow("pipeline", {"numbers": [1, 2]})
    assert isinstance(result, WorkflowResult)
    assert result.is_success
    assert result.is_finished
    assert result.workflow_id == "pipeline"
    assert result.result == {"extract": {"doubled": [2, 4]}, "transform": {"total": 6, "count": 2}}
    assert set(result.steps) == {"extract", "transform"}
    step = result.steps["transform"]
    assert isinstance(step, StepInfo)
    assert step.status == "completed"
    assert step.attempts == 1
    assert step.duration_ms is not None
    assert result.finished_at is not None
    assert result.created_at <= result.finished_at


async def test_a_failed_run_is_returned_not_raised(client: Client) -> None:
    result = await client.execute_workflow("failing")
    assert not result.is_success
    assert result.status == "failed"
    assert result.error is not None
    assert "'explode'" in result.error
    assert result.result == {"fetch": {"rows": 3}}
    assert result.steps["explode"].status == "failed"


async def test_resources_and_context_reach_the_run(client: Client) -> None:
    result = await client.execute_workflow(
        "greeting", {"name": "bo"}, resources={}, context={"tenant": "acme"}
    )
    assert result.is_success, result.error
    assert result.result["call"]["event"] == {"name": "bo", "greeting": "hello bo"}


async def test_the_same_idempotency_key_returns_the_same_run(client: Client) -> None:
    token = f"client-{uuid.uuid4()}"
    first = await client.execute_workflow("counted", idempotency_key=token)
    again = await client.execute_workflow("counted", idempotency_key=token)
    assert again == first
    with pytest.raises(Conflict) as caught:
        await client.execute_workflow("counted", {"extra": 1}, idempotency_key=token)
    assert caught.value.status == 409
    assert caught.value.code == "IdempotencyConflict"


async def test_unknown_workflows_raise_workflow_not_found(client: Client) -> None:
    with pytest.raises(WorkflowNotFound) as caught:
        await client.execute_workflow("nope")
    assert (caught.value.status, caught.value.code) == (404, "WorkflowNotFound")
    assert "'nope'" in caught.value.message
    with pytest.raises(WorkflowNotFound):
        await client.describe_workflow("nope")


async def test_bad_parameters_raise_invalid_request_naming_them(client: Client) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await client.execute_workflow("report", {"limit": "many"})
    assert (caught.value.status, caught.value.code) == (422, "InvalidParameters")
    assert "'limit' must be int" in caught.value.message
    assert "'limit' must be int" in str(caught.value)


# --- following runs -------------------------------------------------------------------------


async def test_wait_for_run_reports_every_change_until_the_end(client: Client) -> None:
    started = await client.execute_workflow("slow", {"seconds": 0.3}, wait=False)
    assert started.status == "running"
    assert not started.is_finished

    updates: list[WorkflowResult] = []
    finished = await client.wait_for_run(
        started.run_id, poll_interval=0.02, timeout=20, on_update=updates.append
    )
    assert finished.is_success
    assert finished.result == {"first": {"slept": 0.3}, "second": {"slept": 0.3}}
    assert updates[-1] == finished
    assert all(a != b for a, b in itertools.pairwise(updates))  # changes only
    # Step by step: the first step finished before the second did.
    seen = [(u.steps["first"].status, u.steps["second"].status) for u in updates]
    assert ("completed", "pending") in seen or ("completed", "running") in seen
    assert seen[-1] == ("completed", "completed")


async def test_wait_for_run_accepts_a_coroutine_callback(client: Client) -> None:
    started = await client.execute_workflow("pipeline", {"numbers": [1]}, wait=False)
    calls: list[str] = []

    async def record(result: WorkflowResult) -> None:
        calls.append(result.status)

    finished = await client.wait_for_run(started.run_id, on_update=record)
    assert finished.is_success
    assert calls[-1] == "completed"


async def test_wait_for_run_times_out_and_the_run_is_then_cancelled(client: Client) -> None:
    started = await client.execute_workflow("slow", {"seconds": 60}, wait=False)
    with pytest.raises(WaitTimeout) as caught:
        await client.wait_for_run(started.run_id, poll_interval=0.05, timeout=0.3)
    assert isinstance(caught.value, TimeoutError)
    assert (await client.get_run(started.run_id)).status == "running"

    cancelled = await client.cancel_run(started.run_id)
    assert cancelled.status == "cancelled"
    assert cancelled.is_finished
    assert not cancelled.is_success
    with pytest.raises(Conflict) as again:
        await client.cancel_run(started.run_id)
    assert (again.value.status, again.value.code) == (409, "RunFinished")


async def test_get_run_reads_a_run_back(client: Client) -> None:
    result = await client.execute_workflow("report", {"limit": 2})
    assert await client.get_run(result.run_id) == result


async def test_unknown_runs_raise_run_not_found(client: Client) -> None:
    for call in (client.get_run, client.cancel_run, client.wait_for_run):
        with pytest.raises(RunNotFound) as caught:
            await call("no-such-run")
        assert (caught.value.status, caught.value.code) == (404, "RunNotFound")


# --- listing --------------------------------------------------------------------------------


async def test_list_runs_pages_through_filtered_runs(client: Client) -> None:
    mine = [(await client.execute_workflow("report", {"limit": n})).run_id for n in range(3)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.list_runs(workflow="report", status="completed", limit=2, cursor=cursor)
        assert isinstance(page, RunList)
        assert len(page.runs) <= 2
        for run in page.runs:
            assert isinstance(run, RunSummary)
            assert (run.workflow_id, run.status, run.is_success) == ("report", "completed", True)
        seen.extend(run.run_id for run in page.runs)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [run_id for run_id in seen if run_id in mine] == list(reversed(mine))


async def test_list_runs_with_a_bad_filter_raises_invalid_request(client: Client) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await client.list_runs(status="paused")
    assert "query.status" in caught.value.message
    with pytest.raises(InvalidRequest):
        await client.list_runs(cursor="garbage")


async def test_list_and_describe_workflows(client: Client) -> None:
    names = {w["id"] for w in await client.list_workflows()}
    assert {"pipeline", "failing", "slow", "report", "greeting", "counted"} <= names
    report = await client.describe_workflow("report")
    assert report["parameters"]["limit"]["required"] is True
    assert [s["name"] for s in report["steps"]] == ["render"]


# --- functions ------------------------------------------------------------------------------


async def test_invoke_returns_the_function_result(client: Client) -> None:
    result = await client.invoke("echo", {"hello": ["world", 1]})
    assert result["event"] == {"hello": ["world", 1]}
    assert isinstance(result["request_id"], str)


async def test_a_function_that_raises_raises_function_error(client: Client) -> None:
    with pytest.raises(FunctionError) as caught:
        await client.invoke("raises", {})
    assert caught.value.error_type == "ValueError"
    assert caught.value.error_message == "the handler refused"
    assert caught.value.code == "ValueError"


async def test_invoking_an_unknown_function_raises_function_not_found(client: Client) -> None:
    with pytest.raises(FunctionNotFound) as caught:
        await client.invoke("no-such-function", {})
    assert caught.value.status == 404
    assert caught.value.code == "ResourceNotFoundException"


# --- transport and parsing ------------------------------------------------------------------


async def test_no_gateway_raises_gateway_unavailable() -> None:
    async with Client(f"http://127.0.0.1:{free_port()}", timeout=2) as nobody:
        with pytest.raises(GatewayUnavailable) as caught:
            await nobody.list_workflows()
    assert caught.value.status is None
    assert isinstance(caught.value, ClientError)


async def test_the_servers_run_json_parses_with_fields_added_and_fails_clearly_without_one(
    gateway: GatewayProcess,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        raw: dict[str, Any] = (
            await http.post("/workflows/pipeline/runs", json={"parameters": {"numbers": [3]}})
        ).json()
    # A newer gateway may add fields anywhere; the client must still read the run.
    newer = {
        **raw,
        "started_at": raw["created_at"],
        "completed_at": raw["finished_at"],
        "steps": {name: {**step, "worker": "w-1"} for name, step in raw["steps"].items()},
    }
    parsed = WorkflowResult.from_dict(newer)
    assert parsed == WorkflowResult.from_dict(raw)
    assert parsed.result == {"extract": {"doubled": [6]}, "transform": {"total": 6, "count": 1}}

    for missing in ("run_id", "status", "steps", "finished_at"):
        broken = {k: v for k, v in raw.items() if k != missing}
        with pytest.raises(InvalidResponse, match=repr(missing)):
            WorkflowResult.from_dict(broken)
    with pytest.raises(InvalidResponse, match="'attempts'"):
        WorkflowResult.from_dict({**raw, "steps": {"extract": {"status": "completed"}}})
    with pytest.raises(InvalidResponse, match="'created_at'"):
        WorkflowResult.from_dict({**raw, "created_at": "yesterday"})


def test_importing_the_client_does_not_load_the_gateway() -> None:
    code = (
        "import sys, lockgate.client\n"
        "loaded = [m for m in ('fastapi', 'starlette', 'lockgate.bootstrap') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
