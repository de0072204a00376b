"""``lockgate serve --reload`` as a developer uses it: save a handler, a workflow's module or
``lockgate.toml`` and the running gateway serves the new version, without a failed request
under load, runs in flight finishing on the code they started with, and the log saying
what reloaded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_for, wait_until

HANDLER = """\
VERSION = "{version}"


def handler(event, context):
    return {{"version": VERSION}}
"""

FLOWS = """\
import asyncio
from pathlib import Path

from lockgate import AsyncWorkflowBuilder

VERSION = "{version}"


async def hold(release: str) -> dict:
    while not Path(release).exists():  # the test lets the run go on when it chooses
        await asyncio.sleep(0.02)
    return {{"held": True}}


async def answer(held: bool) -> dict:
    return {{"version": VERSION}}


def build():
    return (
        AsyncWorkflowBuilder("flow")
        .add_parameter("release", str)
        .add_step("hold", hold)
        .add_step("answer", answer)
        .add_connection("hold", "result.held", "answer", "held")
    )
"""

CONFIG = """\
[functions.hello]
handler = "handlers:handler"
timeout = 30
[functions.hello.scaling]
max_capacity = 4

[workflows.flow]
builder = "flows:build"
"""

INVOKE = "/2015-03-31/functions/hello/invocations"
# Different lengths as well as contents: a source edited within the second it was compiled
# in, at the same size, is one Python's bytecode cache cannot tell from the old one.
OLD, NEW = "one", "two, as edited"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "handlers.py").write_text(HANDLER.format(version=OLD))
    (tmp_path / "flows.py").write_text(FLOWS.format(version=OLD))
    (tmp_path / "lockgate.toml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def gateway(project: Path) -> Iterator[GatewayProcess]:
    with GatewayProcess(
        project / "lockgate.toml", args=["--reload"], env={"LOCKGATE_LOG_LEVEL": "INFO"}
    ) as running:
        # The watch starts with the gateway: wait for it, so that no edit comes before it
        # (each test then asks the gateway something first: by the time it answers, the
        # watch logged here is set up, on the same event loop).
        wait_until(lambda: b"watching" in running.read_output(), what="the watch")
        yield running


def _version(client: httpx.Client) -> str:
    response = client.post(INVOKE, content=b"{}")
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


def test_an_edited_handler_answers_under_load_without_a_failed_request(
    project: Path, gateway: GatewayProcess
) -> None:
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            while not stop.is_set():
                response = client.post(INVOKE, content=b"{}")
                answers.append((response.status_code, response.text))

    callers = [threading.Thread(target=load) for _ in range(4)]
    for caller in callers:
        caller.start()
    try:
        wait_until(lambda: len(answers) >= 20, what="answers from the first version")
        (project / "handlers.py").write_text(HANDLER.format(version=NEW))
        # Not the first new answer: a worker the old pool starts after the edit imports
        # the new code too. The reload is what the log says.
        wait_until(
            lambda: b"reloaded function hello (handlers.py changed)" in gateway.read_output(),
            what="the reload",
        )
        seen = len(answers)
        wait_until(lambda: len(answers) >= seen + 40, what="more answers after the reload")
    finally:
        stop.set()
        for caller in callers:
            caller.join()
    failed = [(status, text) for status, text in answers if status != 200]
    assert not failed, failed[:5]
    versions = [httpx.Response(200, content=text).json()["version"] for _, text in answers]
    assert set(versions) == {OLD, NEW}
    # Calls in flight when the pool was replaced finished long before these began.
    assert set(versions[-20:]) == {NEW}
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        assert _version(client) == NEW  # the old workers are gone from service


def test_an_edited_config_adds_a_route(project: Path, gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        assert client.get("/hello").status_code == 404
        config = project / "lockgate.toml"
        config.write_text(
            config.read_text()
            + '\n[[routes]]\nmethod = "GET"\npath = "/hello"\nfunction = "hello"\n'
        )
        wait_until(lambda: client.get("/hello").status_code == 200, what="the new route")
        assert client.get("/hello").json() == {"version": OLD}
    assert b"lockgate.toml: 1 functions, 1 routes" in gateway.read_output()
    # The config's own change is not mistaken for a change of the function's code.
    assert b"reloaded function hello" not in gateway.read_output()


def test_an_edited_workflow_module_serves_new_runs_and_finishes_old_ones(
    project: Path, gateway: GatewayProcess
) -> None:
    release = project / "release"
    with httpx.Client(base_url=gateway.url, timeout=60, headers=gateway.admin_headers) as client:
        held = client.post(
            "/workflows/flow/runs?wait=false", json={"parameters": {"release": str(release)}}
        )
        assert held.status_code == 202, held.text
        (project / "flows.py").write_text(FLOWS.format(version=NEW))
        wait_for(
            lambda: client.get("/workflows/flow").json()["version"],
            lambda version: version == 2,
            what="version 2 of the workflow",
        )
        assert b"reloaded workflow flow as version 2 (flows.py changed)" in gateway.read_output()
        release.touch()  # the run started on version 1 goes on, and so does a new one
        new = client.post("/workflows/flow/runs", json={"parameters": {"release": str(release)}})
        assert new.json()["result"]["answer"] == {"version": NEW}
        old = wait_for(
            lambda: client.get(f"/runs/{held.json()['run_id']}").json(),
            lambda run: run["status"] == "completed",
            what="the run started before the edit",
        )
        assert old["result"]["answer"] == {"version": OLD}


def test_a_broken_edit_keeps_the_previous_version_serving(
    project: Path, gateway: GatewayProcess
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=60, headers=gateway.admin_headers) as client:
        assert client.get("/workflows/flow").json()["version"] == 1
        (project / "flows.py").write_text("def build(:\n")
        wait_until(
            lambda: b"reload of workflow flow refused" in gateway.read_output(),
            what="the refusal",
        )
        assert client.get("/workflows/flow").json()["version"] == 1
        (project / "flows.py").write_text(FLOWS.format(version=NEW))
        wait_for(
            lambda: client.get("/workflows/flow").json()["version"],
            lambda version: version == 2,
            what="the fixed module's version",
        )
