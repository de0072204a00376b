"""The jobs API: start a declared job, list its runs, look one up, cancel it.

Runs carry their parameters (which may hold credentials) and their runners' messages, so
the API answers operators only (the ``admin`` scope; see ``auth.access``). Errors have the one
error shape; validation messages name the field, never its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from lockgate.controllers.http.asgi import read_body
from lockgate.controllers.http.responses import error_response, json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import RequestTooLargeError
from lockgate.models.job import JobRun
from lockgate.use_cases.jobs.service import JobService, check_parameters

__all__ = [
    "CancelJobRequest",
    "JobRunList",
    "JobRunModel",
    "SubmitJobRequest",
    "job_run_view",
    "jobs_router",
]

_MAX_BODY = 1024 * 1024
_MAX_REASON = 1024
_VALIDATION = "ValidationError"

M = TypeVar("M", bound=BaseModel)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        404: "No such job or job run",
        409: "The run already finished (it cannot be cancelled)",
        413: "The request body is over 1 MiB",
        422: "A malformed query or body (the message names the field)",
        502: "The job's runner refused or failed the call",
        503: "The job store is unavailable, or jobs are off on this gateway",
    }.items()
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitJobRequest(_Model):
    """A run to start."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"job": "nightly-report", "parameters": {"day": "2024-01-15"}}]
        },
    )

    job: str = Field(min_length=1, description="A job declared as [jobs.NAME]")
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Names to strings: environment variables of a local run, parameters "
        "of an AWS Batch job",
    )


class CancelJobRequest(_Model):
    reason: str = Field(
        default="cancelled through the jobs API",
        max_length=_MAX_REASON,
        description="Why; kept as the run's message",
    )


class JobRunModel(_Model):
    """One run of a job."""

    run_id: str
    job: str
    parameters: dict[str, str]
    status: str = Field(description="QUEUED, RUNNING, DONE or ERROR")
    message: str = Field(description="The runner's status reason; why it failed")
    exit_code: int | None
    external_id: str | None = Field(description="The runner's id: a process, a Batch job")
    created_at: float = Field(description="Unix seconds")
    finished_at: float | None = Field(description="Unix seconds; null until it finished")


class JobRunList(_Model):
    runs: list[JobRunModel]


def job_run_view(run: JobRun) -> dict[str, Any]:
    """A run as JSON (``JobRunModel``)."""
    return {
        "run_id": run.run_id,
        "job": run.job,
        "parameters": dict(run.parameters),
        "status": run.status.value,
        "message": run.message,
        "exit_code": run.exit_code,
        "external_id": run.external_id,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


def _problems(errors: Iterable[Mapping[str, Any]]) -> str:
    """``body.parameters.day: Input should be a valid string``: where and what, never the
    value given (a parameter may be a password)."""
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in ("body", *error.get("loc", ())))
        if error.get("type") == "json_invalid":
            problems.append("body: not valid JSON")
        else:
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(dict.fromkeys(problems)) or "the body is invalid"


async def _body(request: Request, model: type[M]) -> M | Response:
    raw = await read_body(request.scope, request.receive, _MAX_BODY)
    if raw is None:
        raise RequestTooLargeError(
            f"the request body is over the limit of {_MAX_BODY} bytes", limit=_MAX_BODY
        )
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        return error_response(422, _VALIDATION, _problems(exc.errors()))


def jobs_router(jobs: JobService | None) -> APIRouter:
    """The jobs API over ``jobs`` (None: jobs are off, and every endpoint says so)."""
    router = APIRouter(tags=["Jobs"])

    def service() -> JobService | Response:
        if jobs is None:
            return error_response(503, "JobsOff", "jobs are not enabled on this gateway")
        return jobs

    @router.post(
        "/jobs",
        status_code=201,
        response_model=JobRunModel,
        responses=_ERRORS,
        # Read whatever its Content-Type says (curl -d sends a form type): described here.
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SubmitJobRequest.model_json_schema()}},
            }
        },
    )
    async def submit_job(request: Request) -> Response:
        """Start a run of a declared job; answers once its runner has taken it (201,
        ``Location: /jobs/{run_id}``). A run the runner refused is kept, ``ERROR``."""
        if isinstance(found := service(), Response):
            return found
        body = await _body(request, SubmitJobRequest)
        if isinstance(body, Response):
            return body
        try:  # what a process cannot be given (a name with '=', a NUL): names the key
            parameters = check_parameters(body.parameters)
        except ValueError as exc:
            return error_response(422, _VALIDATION, f"body.parameters: {exc}")
        run = await found.submit(body.job, parameters)
        return json_response(job_run_view(run), 201, {"Location": f"/jobs/{run.run_id}"})

    @router.get("/jobs", response_model=JobRunList, responses=_ERRORS)
    async def list_job_runs(
        job: Annotated[str | None, Query(description="Only this job's runs")] = None,
        unfinished: Annotated[bool, Query(description="Only runs not finished")] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Runs, newest first, as last seen (the gateway follows unfinished ones)."""
        if isinstance(found := service(), Response):
            return found
        runs = await found.list_runs(job, unfinished, limit)
        return json_response({"runs": [job_run_view(run) for run in runs]})

    @router.get("/jobs/{run_id}", response_model=JobRunModel, responses=_ERRORS)
    async def get_job_run(run_id: str) -> Response:
        """One run; an unfinished one as its runner sees it now."""
        if isinstance(found := service(), Response):
            return found
        return json_response(job_run_view(await found.get(run_id)))

    @router.post(
        "/jobs/{run_id}/cancel",
        response_model=JobRunModel,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": CancelJobRequest.model_json_schema()}},
            }
        },
    )
    async def cancel_job_run(run_id: str, request: Request) -> Response:
        """Stop a run (409 once it finished); it ends ``ERROR``, ``cancelled: <reason>``."""
        if isinstance(found := service(), Response):
            return found
        body = await _body(request, CancelJobRequest)
        if isinstance(body, Response):
            return body
        return json_response(job_run_view(await found.cancel(run_id, body.reason)))

    return router
