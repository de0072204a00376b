"""A run's steps are scrubbed of the secret values the run used: results (strings, keys,
substrings), errors, function steps' results, what later steps receive, what the run store
keeps and what the live run shows. Runs through the real ``ResourceRegistry`` and
``SecretManager`` (over the in-memory store), so the values come from
``RunResources.secret_strings``."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from typing import Any

import pytest

from lockgate import json_codec
from lockgate.gateways.stores.runs.memory import InMemoryRunStore
from lockgate.gateways.stores.secrets.memory import InMemorySecretStore
from lockgate.models.ids import new_run_id
from lockgate.models.resource import ResourceReference
from lockgate.models.run import RunRecord, RunStatus, StepStatus
from lockgate.models.workflow import Workflow
from lockgate.use_cases.resources.registry import ResourceRegistry, RunResources
from lockgate.use_cases.secrets.manager import SecretManager
from lockgate.use_cases.secrets.master_key import MasterKey, generate_master_key
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder
from lockgate.use_cases.workflows.executor import WorkflowExecutor
from lockgate.use_cases.workflows.live_run import LiveRun

TOKEN = "bearer-token-7f3c9a1d2b"
PASSWORD = "pw-5e8b0c4d1a"
SHORT = "pin-12"  # under 8 characters: never redacted
GUARD = 5.0  # against a hang, not a timing assertion


class Upstream:
    """A client whose upstream echoes the credentials it was made with."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    async def echo(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self.credentials['token']}"}}


class EchoingFunctions:
    """A Lockgate function that returns (or raises with) what it is given."""

    async def __call__(self, name: str, payload: Any) -> Any:
        if name == "fails":
            raise RuntimeError(f"function {name!r} failed: upstream said {payload['token']}")
        return {"function": name, "got": payload}


async def make_upstream(config: Mapping[str, Any], credentials: Any) -> Upstream:
    return Upstream(credentials)


@pytest.fixture
async def registry() -> ResourceRegistry:
    manager = SecretManager(InMemorySecretStore(), MasterKey.from_base64(generate_master_key()))
    await manager.store_secret("api", {"user": "svc-account", "token": TOKEN, "pin": SHORT})
    await manager.store_secret("db", {"password": PASSWORD})
    registry = ResourceRegistry(secrets=manager)
    registry.register_resolver("upstream", make_upstream)
    registry.register_reference("api", ResourceReference("upstream", {}, "api"))
    registry.register_reference("db", ResourceReference("upstream", {}, "db"))
    return registry


async def execute(workflow: Workflow, lookup: RunResources, **parameters: Any) -> RunRecord:
    store = InMemoryRunStore()
    now = time.time()
    run = RunRecord(
        run_id=new_run_id(),
        workflow_id="wf",
        status=RunStatus.RUNNING,
        parameters=parameters,
        resources={},
        context={},
        idempotency_key=None,
        request_hash="hash",
        created_at=now,
        updated_at=now,
    )
    await store.create_run(run, owner="node", lease_seconds=30)
    live = LiveRun(run)
    async with asyncio.timeout(GUARD):
        await WorkflowExecutor(store, EchoingFunctions()).execute(workflow, live, lookup)
    stored = await store.get_run(run.run_id)
    assert stored is not None
    assert live.snapshot().steps == stored.steps  # what a live read shows is the same
    return stored


async def test_results_keys_later_inputs_and_function_steps_are_scrubbed(
    registry: ResourceRegistry,
) -> None:
    workflow = (
        AsyncWorkflowBuilder("echo")
        .add_async_code(
            "call",
            """
import base64
api = await get_resource("api")
echoed = await api.echo()
token = api.credentials["token"]
result = {
    "echo": echoed,
    token: "a key",
    "twice": token + token,
    "encoded": base64.b64encode(token.encode()).decode(),
    "short": api.credentials["pin"],
    "user": api.credentials["user"],
}
""",
        )
        .add_async_code("after", "result = {'seen': seen}")
        .add_function_step("function", "echo_fn")
        .add_connection("call", "result.twice", "after", "seen")
        .add_connection("after", "result.seen", "function", "token")
        .build()
    )
    lookup = registry.lookup({})
    stored = await execute(workflow, lookup)
    assert stored.status is RunStatus.COMPLETED, stored.error
    call = stored.steps["call"].output
    assert call["echo"] == {"headers": {"Authorization": "Bearer ***"}}
    assert call["***"] == "a key"
    assert call["twice"] == "******"
    # What docs/how-to/secrets.md says is not caught: a transformed value, a short one, a user name.
    assert call["encoded"] == base64.b64encode(TOKEN.encode()).decode()
    assert call["short"] == SHORT
    assert call["user"] == "svc-account"
    # A later step gets the scrubbed value: the run store holds nothing else to resume from.
    assert stored.steps["after"].output == {"seen": "******"}
    assert stored.steps["function"].output == {
        "function": "echo_fn",
        "got": {"token": "******"},
    }
    assert (
        TOKEN
        not in json_codec.dumps(
            {n: s.output for n, s in stored.steps.items()}, sort_keys=True
        ).decode()
    )
    assert lookup.secret_strings() == (TOKEN,)  # only what this run resolved (not db's)
    lookup.release()


async def test_errors_of_code_and_function_steps_are_scrubbed(registry: ResourceRegistry) -> None:
    raising = (
        AsyncWorkflowBuilder("raising")
        .add_async_code(
            "call",
            """
db = await get_resource("db")
result = None
raise ValueError("login failed for password " + db.credentials["password"])
""",
        )
        .build()
    )
    stored = await execute(raising, registry.lookup({}))
    assert stored.status is RunStatus.FAILED
    assert stored.steps["call"].status is StepStatus.FAILED
    assert (
        stored.steps["call"].error
        == "step 'call' failed: ValueError: login failed for password ***"
    )
    assert stored.error == stored.steps["call"].error

    function = (
        AsyncWorkflowBuilder("function")
        .add_async_code("resolve", "await get_resource('api'); result = 1")
        .add_function_step("fails", "fails")
        .add_connection("resolve", "result", "fails", "n")
        .build()
    )
    stored = await execute(function, registry.lookup({}), token=TOKEN)
    assert stored.status is RunStatus.FAILED
    assert stored.steps["fails"].error is not None
    assert "upstream said ***" in stored.steps["fails"].error
    assert TOKEN not in (stored.error or "")


async def test_a_run_that_used_no_secret_is_left_alone(registry: ResourceRegistry) -> None:
    workflow = AsyncWorkflowBuilder("plain").add_async_code("s", "result = token").build()
    stored = await execute(workflow, registry.lookup({}), token=TOKEN)
    assert stored.steps["s"].output == TOKEN  # the caller's own parameter, no secret used
