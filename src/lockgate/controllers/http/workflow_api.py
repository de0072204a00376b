"""The workflow API: list and describe workflows, start runs, look them up, list, cancel.

Every response body is the models' own ``to_dict()``/``describe()`` (the pydantic models
below describe them in the OpenAPI schema and the e2e tests hold the two together), so the
client SDK parses exactly what the service produces.

Errors take the one shape ``error_handlers`` gives every endpoint. Messages name fields,
never values: a request's resources and context may hold secrets.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lockgate.bootstrap import Application
from lockgate.controllers.http.asgi import read_body
from lockgate.controllers.http.auth.access import principal_of
from lockgate.controllers.http.error_handlers import VALIDATION, parse_body
from lockgate.controllers.http.responses import error_response as _error
from lockgate.controllers.http.responses import json_response as _json
from lockgate.errors import (
    LockgateError,
    RequestTooLargeError,
    RunNotFoundError,
)
from lockgate.models.run import RunRecord, RunStatus, WorkflowRequest, WorkflowResponse
from lockgate.models.security.principals import RUNS_READ, WORKFLOWS_RUN, Principal

__all__ = [
    "ErrorBody",
    "Run",
    "RunList",
    "RunRequest",
    "RunSummary",
    "WorkflowDescription",
    "WorkflowList",
    "workflow_router",
]

_MAX_KEY = 255

# -- the schema ----------------------------------------------------------------------------

RunStatusName = Literal["running", "completed", "failed", "cancelled"]
StepStatusName = Literal["pending", "running", "completed", "failed", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Model):
    """What a run starts with; every field may be left out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parameters": {"process_date": "2024-01-15"},
                    "resources": {"db": "@main_db"},
                    "context": {"tenant": "acme"},
                    "idempotency_key": "import-2024-01-15",
                }
            ]
        },
    )

    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Values the steps read; checked against the "
        "workflow's declared parameters, if it declares any.",
    )
    resources: dict[str, Any] = Field(
        default_factory=dict,
        description="Resource name -> reference (a reference object "
        "or '@name' for a shared resource); steps get them with get_resource(name).",
    )
    context: dict[str, Any] = Field(
        default_factory=dict, description="Variables a step reads from its context."
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=_MAX_KEY,
        description="The same key returns the same run instead of starting another (the "
        "Idempotency-Key header does the same).",
    )


class StepState(_Model):
    status: StepStatusName
    error: str | None
    attempts: int
    started_at: float | None = Field(description="Unix seconds")
    finished_at: float | None = Field(description="Unix seconds")
    duration_ms: float | None


class Run(_Model):
    """A run: ``result`` holds the output of every completed step, by step name (a failed
    run keeps those that finished before the failure); ``error`` names the failing step."""

    run_id: str
    workflow_id: str
    status: RunStatusName
    result: dict[str, Any]
    error: str | None
    steps: dict[str, StepState]
    created_at: float = Field(description="Unix seconds")
    finished_at: float | None = Field(description="Unix seconds; null while running")
    principal: str | None = Field(
        description="Who started the run (a token's name, jwt:<sub>, anonymous); null for "
        "runs started inside the gateway"
    )


class RunSummary(_Model):
    run_id: str
    workflow_id: str
    status: RunStatusName
    error: str | None
    created_at: float
    finished_at: float | None
    principal: str | None


class RunList(_Model):
    runs: list[RunSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: last")


class ParameterDescription(_Model):
    type: str
    required: bool
    default: Any = None
    description: str


class InputDescription(_Model):
    step: str
    output: str


class StepDescription(_Model):
    name: str
    kind: Literal["code", "callable", "function"]
    target: str | None
    depends_on: list[str]
    inputs: dict[str, InputDescription]
    required_resources: list[str]
    timeout: float | None
    max_attempts: int


class WorkflowDescription(_Model):
    id: str
    name: str
    description: str
    timeout: float | None
    required_resources: list[str]
    parameters: dict[str, ParameterDescription]
    steps: list[StepDescription]
    version: int = Field(
        description="1 when registered, one more each time a reload replaces its code"
    )


class WorkflowList(_Model):
    workflows: list[WorkflowDescription]


class ErrorDetail(_Model):
    code: str = Field(description="Stable and machine-readable, e.g. WorkflowNotFound")
    message: str


class ErrorBody(_Model):
    error: ErrorDetail


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        404: "No such workflow or run",
        409: "Idempotency key reused for a different request, or the run already finished",
        413: "The request body is over the gateway's max_body_bytes",
        422: "Malformed request (the message names the field) or invalid parameters",
        503: "The run store is unavailable; retry later",
    }
    return {s: {"model": ErrorBody, "description": described[s]} for s in (*statuses, 503)}


# -- responses -----------------------------------------------------------------------------


def _summary(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "workflow_id": run.workflow_id,
        "status": run.status.value,
        "error": run.error,
        "created_at": run.created_at,
        "finished_at": run.updated_at if run.status.finished else None,
        "principal": run.principal,
    }


def _visible(principal: Principal, run: WorkflowResponse) -> WorkflowResponse:
    """``run`` when ``principal`` may read it; a caller with ``runs:read:own`` only is told
    another's run does not exist, as it would be for a made-up id."""
    if principal.allows(RUNS_READ) or run.principal == principal.name:
        return run
    raise RunNotFoundError(f"no run {run.run_id!r}", run_id=run.run_id)


# -- routes --------------------------------------------------------------------------------


def workflow_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Workflows"])
    service = application.workflows
    max_body = application.settings.max_body_bytes

    @router.get("/workflows", response_model=WorkflowList, responses=_errors())
    async def list_workflows(request: Request) -> Response:
        """Every registered workflow the caller may run: steps, connections, parameters,
        policies."""
        principal = principal_of(request)
        runnable = [
            w for w in service.workflows() if principal.allows(WORKFLOWS_RUN, w.workflow_id)
        ]
        return _json({"workflows": [w.describe() for w in runnable]})

    @router.get(
        "/workflows/{workflow_id}", response_model=WorkflowDescription, responses=_errors(404, 422)
    )
    async def describe_workflow(workflow_id: str) -> Response:
        """One workflow's description."""
        return _json(service.get_workflow(workflow_id).describe())

    @router.post(
        "/workflows/{workflow_id}/runs",
        response_model=Run,
        # The body is read whatever its Content-Type says (curl -d sends a form type), so
        # it is described here rather than declared as a parameter.
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": RunRequest.model_json_schema()}},
            }
        },
        responses={
            202: {
                "model": Run,
                "description": "With wait=false: the run started (or the one its idempotency "
                "key names); Location is /runs/{run_id}",
            },
            **_errors(404, 409, 413, 422),
        },
    )
    async def start_run(
        workflow_id: str,
        request: Request,
        wait: Annotated[
            bool, Query(description="Answer when the run has finished (else 202 at once)")
        ] = True,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=_MAX_KEY)
        ] = None,
    ) -> Response:
        """Start a run. A run that fails is still a 200 (its status says ``failed`` and its
        error names the step); only a run that could not start is an error."""
        raw = await read_body(request.scope, request.receive, max_body)
        if raw is None:  # declared or streamed past the limit: refused before it is all read
            raise RequestTooLargeError(
                f"the request body is over the limit of {max_body} bytes", limit=max_body
            )
        if isinstance(body := parse_body(RunRequest, raw), Response):
            return body
        if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
            return _error(
                422,
                VALIDATION,
                "body.idempotency_key and the Idempotency-Key header differ; send one of them",
            )
        run = await service.execute_workflow(
            workflow_id,
            WorkflowRequest(
                parameters=body.parameters,
                resources=body.resources,
                context=body.context,
                idempotency_key=body.idempotency_key or idempotency_key,
                principal=principal_of(request).name,
            ),
            wait=wait,
        )
        if wait:
            return _json(run.to_dict())
        return _json(run.to_dict(), 202, {"Location": f"/runs/{run.run_id}"})

    @router.get("/runs", response_model=RunList, responses=_errors(422))
    async def list_runs(
        request: Request,
        workflow: Annotated[str | None, Query(description="Only this workflow's runs")] = None,
        status: Annotated[RunStatus | None, Query(description="Only runs in this state")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> Response:
        """Runs, newest first, one page at a time (without step details); a caller with
        ``runs:read:own`` sees only the runs it started."""
        principal = principal_of(request)
        try:
            page = await service.list_runs(
                workflow_id=workflow,
                status=status,
                limit=limit,
                cursor=cursor,
                principal=None if principal.allows(RUNS_READ) else principal.name,
            )
        except LockgateError:
            raise
        except ValueError:  # the store's word for a cursor it did not hand out
            return _error(422, VALIDATION, "query.cursor: not a cursor this gateway returned")
        return _json(
            {"runs": [_summary(run) for run in page.runs], "next_cursor": page.next_cursor}
        )

    @router.get("/runs/{run_id}", response_model=Run, responses=_errors(404, 422))
    async def get_run(run_id: str, request: Request) -> Response:
        """A run: live while it executes on this gateway, else as the store has it."""
        return _json(_visible(principal_of(request), await service.get_run(run_id)).to_dict())

    @router.post("/runs/{run_id}/cancel", response_model=Run, responses=_errors(404, 409, 422))
    async def cancel_run(run_id: str) -> Response:
        """Cancel a running run: steps in flight are cancelled and none starts again."""
        return _json((await service.cancel_run(run_id)).to_dict())

    return router
