"""The workflow API over HTTP, against a real gateway process running the workflows of
``tests/e2e/app/workflows.py``.

Every body is also validated against the pydantic models the OpenAPI schema is built from
(they forbid unknown keys), so the documented shapes and the served ones cannot drift.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lockgate.controllers.http.workflow_api import (
    ErrorBody,
    Run,
    RunList,
    WorkflowDescription,
    WorkflowList,
)
from tests.support import wait_for

WORKFLOWS = {"pipeline", "failing", "slow", "report", "greeting", "counted"}


def run_of(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    Run.model_validate(body)
    return body


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """The error's message, after checking the status and the one error shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    ErrorBody.model_validate(body)
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def start(client: httpx.Client, workflow: str, wait: bool = True, **body: Any) -> httpx.Response:
    return client.post(f"/workflows/{workflow}/runs", params={"wait": str(wait).lower()}, json=body)


def key() -> str:
    return f"test-{uuid.uuid4()}"


def poll_until_finished(client: httpx.Client, location: str, timeout: float = 20) -> dict[str, Any]:
    return wait_for(
        lambda: run_of(client.get(location)),
        lambda run: run["status"] != "running",
        guard=timeout,
        what=f"{location} finished",
    )


# --- workflows ------------------------------------------------------------------------------


def test_workflows_lists_every_registered_workflow(client: httpx.Client) -> None:
    response = client.get("/workflows")
    assert response.status_code == 200
    listed = WorkflowList.model_validate(response.json())
    assert {w.id for w in listed.workflows} >= WORKFLOWS


def test_a_workflow_is_described_with_steps_connections_and_parameters(
    client: httpx.Client,
) -> None:
    pipeline = WorkflowDescription.model_validate(client.get("/workflows/pipeline").json())
    assert pipeline.description == "extract -> transform"
    assert [s.name for s in pipeline.steps] == ["extract", "transform"]
    transform = pipeline.steps[1]
    assert transform.depends_on == ["extract"]
    assert transform.inputs["doubled"].model_dump() == {
        "step": "extract",
        "output": "result.doubled",
    }

    report = client.get("/workflows/report").json()
    assert report["parameters"]["limit"] == {
        "type": "int",
        "required": True,
        "description": "How many rows",
    }
    assert report["parameters"]["label"]["default"] == "report"


def test_an_unknown_workflow_is_a_404_naming_it(client: httpx.Client) -> None:
    message = error_of(client.get("/workflows/nope"), 404, "WorkflowNotFound")
    assert "'nope'" in message
    error_of(start(client, "nope"), 404, "WorkflowNotFound")


# --- starting runs --------------------------------------------------------------------------


def test_a_run_that_completes_is_a_200_with_every_step(client: httpx.Client) -> None:
    run = run_of(start(client, "pipeline", parameters={"numbers": [1, 2, 3]}))
    assert run["workflow_id"] == "pipeline"
    assert run["status"] == "completed"
    assert run["error"] is None
    assert run["result"] == {
        "extract": {"doubled": [2, 4, 6]},
        "transform": {"total": 12, "count": 3},
    }
    assert set(run["steps"]) == {"extract", "transform"}
    for step in run["steps"].values():
        assert step["status"] == "completed"
        assert step["attempts"] == 1
        assert step["started_at"] <= step["finished_at"]
        assert step["duration_ms"] >= 0
    assert run["created_at"] <= run["finished_at"]


def test_a_run_without_a_body_uses_the_defaults(client: httpx.Client) -> None:
    assert run_of(client.post("/workflows/counted/runs"))["status"] == "completed"
    run = run_of(client.post("/workflows/slow/runs?wait=false"), 202)
    client.post(f"/runs/{run['run_id']}/cancel")


def test_a_run_that_fails_is_a_200_naming_the_step_and_keeping_what_finished(
    client: httpx.Client,
) -> None:
    run = run_of(start(client, "failing"))
    assert run["status"] == "failed"
    assert "'explode'" in run["error"]
    assert "row 3 is malformed" in run["error"]
    assert run["result"] == {"fetch": {"rows": 3}}
    assert run["steps"]["fetch"]["status"] == "completed"
    assert run["steps"]["explode"]["status"] == "failed"
    assert "'explode'" in run["steps"]["explode"]["error"]
    assert run["finished_at"] is not None


def test_wait_false_is_a_202_whose_location_follows_the_run(client: httpx.Client) -> None:
    response = start(client, "slow", wait=False, parameters={"seconds": 0.3})
    run = run_of(response, 202)
    assert run["status"] == "running"
    assert run["finished_at"] is None
    assert response.headers["location"] == f"/runs/{run['run_id']}"
    assert set(run["steps"]) == {"first", "second"}  # pending steps are listed too

    finished = poll_until_finished(client, response.headers["location"])
    assert finished["run_id"] == run["run_id"]
    assert finished["status"] == "completed"
    assert finished["result"] == {"first": {"slept": 0.3}, "second": {"slept": 0.3}}


def test_a_function_step_runs_the_declared_function(client: httpx.Client) -> None:
    run = run_of(start(client, "greeting", parameters={"name": "ann"}))
    assert run["status"] == "completed", run["error"]
    event = run["result"]["call"]["event"]
    assert event == {"name": "ann", "greeting": "hello ann"}
    assert isinstance(run["result"]["call"]["request_id"], str)


def test_declared_parameters_get_their_defaults(client: httpx.Client) -> None:
    run = run_of(start(client, "report", parameters={"limit": 5}))
    assert run["result"] == {"render": {"limit": 5, "label": "report"}}


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({}, "'limit' is required"),
        ({"limit": "five"}, "'limit' must be int, not str"),
        ({"limit": 1, "colour": "red"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_parameters_are_a_422_naming_them(
    client: httpx.Client, parameters: dict[str, Any], named: str
) -> None:
    message = error_of(start(client, "report", parameters=parameters), 422, "InvalidParameters")
    assert named in message


def test_malformed_json_is_a_422_saying_so(client: httpx.Client) -> None:
    response = client.post(
        "/workflows/pipeline/runs",
        content=b'{"parameters": {',
        headers={"content-type": "application/json"},
    )
    assert "not valid JSON" in error_of(response, 422, "ValidationError")


def test_wrong_types_are_a_422_naming_each_field_and_echoing_no_value(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/workflows/pipeline/runs",
        json={
            "parameters": ["not", "an", "object"],
            "resources": "postgres://admin:hunter2@db/prod",
            "context": {"api_key": "sk-live-secret"},
            "idempotency_key": 42,
            "paramters": {"typo": True},
        },
    )
    message = error_of(response, 422, "ValidationError")
    for field in ("body.parameters", "body.resources", "body.idempotency_key", "body.paramters"):
        assert field in message
    assert "hunter2" not in response.text
    assert "sk-live-secret" not in response.text


def test_a_body_over_the_limit_is_a_413(client: httpx.Client) -> None:
    big = {"parameters": {"blob": "x" * (1024 * 1024 + 1)}}
    error_of(client.post("/workflows/counted/runs", json=big), 413, "RequestTooLargeException")


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_key_returns_the_same_run_without_running_it_again(
    client: httpx.Client,
) -> None:
    token = key()
    first = run_of(client.post("/workflows/counted/runs", headers={"Idempotency-Key": token}))
    # The key in the body is the same key; and wait=false replays the run too.
    again = run_of(start(client, "counted", idempotency_key=token))
    later = run_of(start(client, "counted", wait=False, idempotency_key=token), 202)
    assert first["run_id"] == again["run_id"] == later["run_id"]
    assert again["result"] == first["result"] == later["result"]
    assert again["steps"] == first["steps"]

    # One execution happened in between: the next fresh run counts one more.
    fresh = run_of(start(client, "counted"))
    assert fresh["run_id"] != first["run_id"]
    assert fresh["result"]["count"]["execution"] > first["result"]["count"]["execution"]


def test_a_key_reused_for_a_different_request_is_a_409(client: httpx.Client) -> None:
    token = key()
    run_of(start(client, "report", parameters={"limit": 1}, idempotency_key=token))
    response = start(client, "report", parameters={"limit": 2}, idempotency_key=token)
    error_of(response, 409, "IdempotencyConflict")


def test_different_keys_in_the_header_and_the_body_are_a_422(client: httpx.Client) -> None:
    response = client.post(
        "/workflows/counted/runs",
        json={"idempotency_key": key()},
        headers={"Idempotency-Key": key()},
    )
    assert "Idempotency-Key" in error_of(response, 422, "ValidationError")


# --- runs -----------------------------------------------------------------------------------


def test_a_run_is_read_back_and_an_unknown_one_is_a_404(client: httpx.Client) -> None:
    run = run_of(start(client, "pipeline", parameters={"numbers": [5]}))
    assert run_of(client.get(f"/runs/{run['run_id']}")) == run
    assert "'no-such-run'" in error_of(client.get("/runs/no-such-run"), 404, "RunNotFound")


def test_a_running_run_is_cancelled_once(client: httpx.Client) -> None:
    run = run_of(start(client, "slow", wait=False, parameters={"seconds": 60}), 202)
    time.sleep(0.1)  # let the first step start
    cancelled = run_of(client.post(f"/runs/{run['run_id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"] == "the run was cancelled"
    assert cancelled["steps"]["first"]["status"] == "cancelled"
    assert cancelled["steps"]["second"]["status"] == "pending"
    assert cancelled["finished_at"] is not None
    assert run_of(client.get(f"/runs/{run['run_id']}"))["status"] == "cancelled"

    error_of(client.post(f"/runs/{run['run_id']}/cancel"), 409, "RunFinished")
    error_of(client.post("/runs/no-such-run/cancel"), 404, "RunNotFound")


def test_runs_are_listed_newest_first_a_page_at_a_time(client: httpx.Client) -> None:
    started = [run_of(start(client, "report", parameters={"limit": n}))["run_id"] for n in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"workflow": "report", "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get("/runs", params=params)
        assert response.status_code == 200
        page = RunList.model_validate(response.json())
        assert len(page.runs) <= 2
        assert all(run.workflow_id == "report" for run in page.runs)
        seen.extend(run.run_id for run in page.runs)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert pages >= 3
    mine = [run_id for run_id in seen if run_id in started]
    assert mine == list(reversed(started))


def test_runs_are_filtered_by_status(client: httpx.Client) -> None:
    failed = run_of(start(client, "failing"))
    running = run_of(start(client, "slow", wait=False, parameters={"seconds": 60}), 202)
    try:
        listed = client.get("/runs", params={"status": "failed", "limit": 500}).json()
        assert all(run["status"] == "failed" for run in listed["runs"])
        summary = next(run for run in listed["runs"] if run["run_id"] == failed["run_id"])
        assert summary == {key: failed[key] for key in summary}
        assert set(summary) == {
            "run_id",
            "workflow_id",
            "status",
            "error",
            "created_at",
            "finished_at",
            "principal",
        }
        assert summary["principal"] == "local-admin"

        listed = client.get("/runs", params={"status": "running", "workflow": "slow"}).json()
        assert running["run_id"] in {run["run_id"] for run in listed["runs"]}
        assert all(run["finished_at"] is None for run in listed["runs"])
    finally:
        client.post(f"/runs/{running['run_id']}/cancel")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=paused", "query.status"),
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("limit=ten", "query.limit"),
        ("cursor=not-a-cursor", "query.cursor"),
    ],
)
def test_a_bad_listing_query_is_a_422_naming_it(
    client: httpx.Client, query: str, named: str
) -> None:
    assert named in error_of(client.get(f"/runs?{query}"), 422, "ValidationError")


# --- the surface ----------------------------------------------------------------------------


def test_the_openapi_schema_documents_the_workflow_api(client: httpx.Client) -> None:
    schema = client.get("/_lockgate/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/workflows": {"get"},
        "/workflows/{workflow_id}": {"get"},
        "/workflows/{workflow_id}/runs": {"post"},
        "/runs": {"get"},
        "/runs/{run_id}": {"get"},
        "/runs/{run_id}/cancel": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods
        for operation in paths[path].values():
            assert operation["tags"] == ["Workflows"]
    start_run = paths["/workflows/{workflow_id}/runs"]["post"]
    assert {"200", "202", "404", "409", "422"} <= set(start_run["responses"])
    assert start_run["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert {p["name"] for p in start_run["parameters"]} == {
        "workflow_id",
        "wait",
        "Idempotency-Key",
    }
    body = start_run["requestBody"]["content"]["application/json"]["schema"]
    assert body["title"] == "RunRequest"
    assert set(body["properties"]) == {"parameters", "resources", "context", "idempotency_key"}
    components = schema["components"]["schemas"]
    assert {"Run", "StepState", "RunList", "ErrorBody"} <= set(components)
    assert "HTTPValidationError" not in components  # every 422 has our one shape


def test_unknown_endpoints_and_methods_have_the_error_shape(client: httpx.Client) -> None:
    error_of(client.get("/workflows/pipeline/runs/extra"), 404, "RouteNotFound")
    error_of(client.delete("/runs"), 405, "MethodNotAllowed")
    error_of(client.get("/workflows/pipeline/runs"), 405, "MethodNotAllowed")


def test_a_body_is_json_whatever_its_content_type_says(client: httpx.Client) -> None:
    # curl -d sends application/x-www-form-urlencoded; the body is still the run's JSON.
    response = client.post(
        "/workflows/pipeline/runs",
        content=b'{"parameters": {"numbers": [1, 2, 3]}}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"


def test_a_streamed_body_over_the_limit_is_refused_while_read(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"parameters": {"numbers": ['
        for _ in range(8 * 1024):
            yield b"1," * 512
        yield b"1]}}"

    response = client.post("/workflows/pipeline/runs", content=chunks())
    error_of(response, 413, "RequestTooLargeException")


def test_nan_in_parameters_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/workflows/pipeline/runs", content=b'{"parameters": {"numbers": [NaN]}}'
    )
    error_of(response, 422, "InvalidParameters")
