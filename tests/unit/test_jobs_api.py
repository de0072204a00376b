"""The jobs API through FastAPI and httpx's ASGI transport, over a real ``JobService``
(in-memory store, local processes): status codes, the run's JSON, the one error shape,
validation that names fields and never echoes values. Who may call (operators: the
``admin`` scope) is the access gate's business: ``tests/e2e/test_access.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lockgate.controllers.http.error_handlers import install_error_handlers
from lockgate.controllers.http.jobs_api import JobRunList, JobRunModel, jobs_router
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.gateways.job_runners.local_process import LocalProcessJobRunner
from lockgate.gateways.stores.jobs.memory import InMemoryJobStore
from lockgate.use_cases.jobs.service import JobService
from tests.unit.test_job_service import JOBS

pytestmark = pytest.mark.usefixtures("no_lockgate_env")

LOOPBACK = ("127.0.0.1", 40000)
GUARD = 30.0  # bounds a wait for a process; not a timing claim
SECRET = "hunter2-do-not-echo"
UNFINISHED = ("QUEUED", "RUNNING")


@asynccontextmanager
async def api(*, jobs: bool = True) -> AsyncIterator[FastAPI]:
    runner = LocalProcessJobRunner()
    service = JobService(InMemoryJobStore(), {"local": runner}, JOBS) if jobs else None
    app = FastAPI()
    app.include_router(jobs_router(service))
    install_error_handlers(app)
    if service is not None:
        await service.start()
    try:
        yield app
    finally:
        if service is not None:
            await service.stop()
        await runner.close()


@asynccontextmanager
async def client(
    app: FastAPI, address: tuple[str, int] = LOOPBACK, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, client=address)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8000", headers=headers
    ) as http:
        yield http


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with api() as app, client(app) as opened:
        yield opened


def error_of(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    ErrorBody.model_validate(body)
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


async def finished(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """The run once its process ended (another process: nothing to wait on but its state)."""
    async with asyncio.timeout(GUARD):
        while True:
            run: dict[str, Any] = (await http.get(f"/jobs/{run_id}")).json()
            if run["status"] not in UNFINISHED:
                return run
            await asyncio.sleep(0.01)


# -- POST /jobs ----------------------------------------------------------------------------


async def test_submit_answers_201_with_the_run_and_its_location(http: httpx.AsyncClient) -> None:
    response = await http.post("/jobs", json={"job": "sleeps", "parameters": {"day": "mon"}})

    assert response.status_code == 201, response.text
    run = JobRunModel.model_validate(response.json()).model_dump()
    assert response.headers["location"] == f"/jobs/{run['run_id']}"
    assert run["job"] == "sleeps"
    assert run["parameters"] == {"day": "mon"}
    assert run["status"] == "RUNNING"
    assert run["external_id"].startswith("local:pid:")
    assert (run["exit_code"], run["finished_at"], run["message"]) == (None, None, "")
    assert set(response.json()) == set(JobRunModel.model_fields)


async def test_a_body_sent_as_a_form_type_is_still_read(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/jobs",
        content=b'{"job": "ok"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["parameters"] == {}


async def test_submitting_an_unknown_job_is_404(http: httpx.AsyncClient) -> None:
    message = error_of(await http.post("/jobs", json={"job": "nope"}), 404, "JobNotFound")
    assert message.startswith("no job 'nope' (declared: ")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"job": "ok", "parameters": {"pw": 5}}, "body.parameters.pw: Input should be a valid"),
        ({"job": "ok", "parameters": [SECRET]}, "body.parameters: Input should be an object"),
        ({"parameters": {}}, "body.job: Field required"),
        ({"job": ""}, "body.job: String should have at least 1 character"),
        ({"job": "ok", "extra": SECRET}, "body.extra: Extra inputs are not permitted"),
        ({"job": "ok", "parameters": {"a=b": SECRET}}, "body.parameters: parameter 'a=b'"),
    ],
)
async def test_a_malformed_body_is_422_naming_the_field_never_its_value(
    http: httpx.AsyncClient, body: dict[str, Any], expected: str
) -> None:
    response = await http.post("/jobs", json=body)

    assert error_of(response, 422, "ValidationError").startswith(expected)
    assert SECRET not in response.text
    assert (await http.get("/jobs")).json() == {"runs": []}


async def test_a_body_that_is_not_json_or_empty_is_422(http: httpx.AsyncClient) -> None:
    bad = await http.post("/jobs", content=f'{{"job": "{SECRET}'.encode())
    assert error_of(bad, 422, "ValidationError") == "body: not valid JSON"
    assert SECRET not in bad.text
    empty = await http.post("/jobs")
    assert error_of(empty, 422, "ValidationError") == "body.job: Field required"


async def test_a_body_over_1_mib_is_413(http: httpx.AsyncClient) -> None:
    big = {"job": "ok", "parameters": {"x": "a" * (1024 * 1024)}}
    error_of(await http.post("/jobs", json=big), 413, "RequestTooLargeException")


async def test_a_run_the_runner_cannot_start_is_502_and_listed_as_error(
    http: httpx.AsyncClient,
) -> None:
    message = error_of(await http.post("/jobs", json={"job": "missing"}), 502, "JobRunnerError")

    [run] = (await http.get("/jobs")).json()["runs"]
    assert (run["job"], run["status"], run["message"]) == ("missing", "ERROR", message)


# -- GET /jobs, GET /jobs/{id} -------------------------------------------------------------


async def test_get_follows_a_run_to_its_exit_code(http: httpx.AsyncClient) -> None:
    ok = (await http.post("/jobs", json={"job": "ok"})).json()
    fails = (await http.post("/jobs", json={"job": "fails"})).json()

    done, failed = await finished(http, ok["run_id"]), await finished(http, fails["run_id"])

    assert (done["status"], done["exit_code"]) == ("DONE", 0)
    assert done["finished_at"] >= done["created_at"]
    assert (failed["status"], failed["exit_code"], failed["message"]) == (
        "ERROR",
        3,
        "exit status 3: boom",
    )


async def test_getting_an_unknown_run_is_404(http: httpx.AsyncClient) -> None:
    error_of(await http.get("/jobs/nope"), 404, "JobNotFound")


async def test_list_filters_and_limits_newest_first(http: httpx.AsyncClient) -> None:
    done = await finished(http, (await http.post("/jobs", json={"job": "ok"})).json()["run_id"])
    sleeping = (await http.post("/jobs", json={"job": "sleeps"})).json()

    def ids(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [run.run_id for run in JobRunList.model_validate(response.json()).runs]

    assert ids(await http.get("/jobs")) == [sleeping["run_id"], done["run_id"]]
    assert ids(await http.get("/jobs", params={"job": "ok"})) == [done["run_id"]]
    assert ids(await http.get("/jobs", params={"unfinished": "true"})) == [sleeping["run_id"]]
    assert ids(await http.get("/jobs", params={"limit": 1})) == [sleeping["run_id"]]
    message = error_of(await http.get("/jobs", params={"limit": 0}), 422, "ValidationError")
    assert "query.limit" in message


# -- POST /jobs/{id}/cancel ----------------------------------------------------------------


async def test_cancel_stops_a_run_with_the_reason_then_a_second_cancel_is_409(
    http: httpx.AsyncClient,
) -> None:
    run = (await http.post("/jobs", json={"job": "sleeps"})).json()

    response = await http.post(f"/jobs/{run['run_id']}/cancel", json={"reason": "not needed"})

    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert (cancelled["status"], cancelled["message"]) == ("ERROR", "cancelled: not needed")
    assert cancelled["finished_at"] is not None
    assert (await http.get(f"/jobs/{run['run_id']}")).json() == cancelled
    again = await http.post(f"/jobs/{run['run_id']}/cancel")
    assert "already finished (ERROR)" in error_of(again, 409, "RunFinished")


async def test_cancel_without_a_body_gives_a_default_reason(http: httpx.AsyncClient) -> None:
    run = (await http.post("/jobs", json={"job": "sleeps"})).json()

    cancelled = (await http.post(f"/jobs/{run['run_id']}/cancel")).json()

    assert cancelled["message"] == "cancelled: cancelled through the jobs API"


async def test_cancel_of_an_unknown_run_is_404_and_a_malformed_reason_422(
    http: httpx.AsyncClient,
) -> None:
    error_of(await http.post("/jobs/nope/cancel"), 404, "JobNotFound")
    run = (await http.post("/jobs", json={"job": "sleeps"})).json()
    long = await http.post(f"/jobs/{run['run_id']}/cancel", json={"reason": "x" * 1025})
    assert error_of(long, 422, "ValidationError").startswith("body.reason:")
    assert (await http.get(f"/jobs/{run['run_id']}")).json()["status"] == "RUNNING"


# -- who may call --------------------------------------------------------------------------


async def test_a_gateway_without_jobs_answers_503() -> None:
    async with api(jobs=False) as app, client(app) as local:
        message = error_of(await local.get("/jobs"), 503, "JobsOff")
        assert message == "jobs are not enabled on this gateway"


async def test_the_openapi_schema_describes_the_endpoints() -> None:
    async with api() as app:
        paths = app.openapi()["paths"]
    assert set(paths) == {"/jobs", "/jobs/{run_id}", "/jobs/{run_id}/cancel"}
    assert "201" in paths["/jobs"]["post"]["responses"]
    schema = paths["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"job", "parameters"}
