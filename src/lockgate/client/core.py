"""``Client``: the gateway's workflow API and Invoke API, over HTTP (httpx)."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from lockgate.client.errors import (
    ClientError,
    FunctionError,
    GatewayUnavailable,
    InvalidResponse,
    NotFound,
    RunNotFound,
    WaitTimeout,
    WorkflowNotFound,
    error_from_response,
)
from lockgate.client.results import RunList, WorkflowResult

__all__ = ["Client"]

_USER_AGENT = "lockgate-client"


def _segment(value: str) -> str:
    """``value`` as one path segment (a name with ``/`` or ``?`` cannot change the URL)."""
    return quote(value, safe="")


def _reference(value: Any) -> Any:
    """A resource reference as JSON: objects with ``to_dict()`` (the gateway's
    ``ResourceReference``) become their dict; dicts and ``"@name"`` pass as they are."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


def _resource(
    type_name: str, config: Mapping[str, Any], credentials_ref: str | None
) -> dict[str, Any]:
    reference: dict[str, Any] = {"type": type_name, "config": dict(config)}
    if credentials_ref is not None:
        reference["credentials_ref"] = credentials_ref
    return reference


class Client:
    """Talks to a Lockgate gateway.

    Use it as ``async with Client("http://127.0.0.1:8000") as client:`` (or call
    ``aclose()``); one client keeps its connections open for every call.

    Args:
        base_url: Where the gateway listens.
        timeout: Seconds any one HTTP call may take. A call that waits for a run
            (``execute_workflow(wait=True)``) waits at most this long: start long runs with
            ``wait=False`` and follow them with ``wait_for_run``.
        transport: An httpx transport, e.g. ``httpx.ASGITransport(app)`` to talk to a
            gateway in the same process.
        token: A bearer token (``lockgate tokens create``), sent with every call; by
            default ``LOCKGATE_TOKEN`` from the environment, if set.

    Every method raises a ``ClientError``: ``GatewayUnavailable`` when the gateway does not
    answer, otherwise the subclass for its error (``WorkflowNotFound``, ``InvalidRequest``,
    ``Conflict``, ``ServerError`` ...), carrying its status, code and message.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        self._timeout = timeout
        token = token or os.environ.get("LOCKGATE_TOKEN") or None
        headers = {"user-agent": _USER_AGENT}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, headers=headers
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- workflows -------------------------------------------------------------------------

    async def execute_workflow(
        self,
        name: str,
        parameters: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        wait: bool = True,
    ) -> WorkflowResult:
        """Run workflow ``name``.

        Args:
            parameters: Values the steps read (JSON values).
            resources: Resource name -> reference (JSON: a reference's fields or ``"@name"``).
            context: Variables the steps read from their context.
            idempotency_key: The same key returns the same run (steps are not run again).
            wait: Return when the run has finished; False returns the running run at once.

        Returns:
            The run. A run that failed is returned, not raised: check ``is_success`` and
            ``error``.

        Raises:
            WorkflowNotFound: No such workflow.
            InvalidRequest: Parameters missing, unknown or mistyped (the message names them).
            Conflict: ``idempotency_key`` belongs to a run of a different request.
        """
        body: dict[str, Any] = {
            "parameters": dict(parameters or {}),
            "resources": {k: _reference(v) for k, v in (resources or {}).items()},
            "context": dict(context or {}),
        }
        if idempotency_key is not None:
            body["idempotency_key"] = idempotency_key
        response = await self._request(
            "POST",
            f"/workflows/{_segment(name)}/runs",
            json=body,
            params={"wait": "true" if wait else "false"},
            not_found=WorkflowNotFound,
        )
        return WorkflowResult.from_dict(self._decode(response))

    async def get_run(self, run_id: str) -> WorkflowResult:
        """The run, as it is now. Raises ``RunNotFound``."""
        response = await self._request("GET", f"/runs/{_segment(run_id)}", not_found=RunNotFound)
        return WorkflowResult.from_dict(self._decode(response))

    async def list_runs(
        self,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunList:
        """Runs, newest first, ``limit`` (1-500) at a time; filter by workflow and status
        (``running``, ``completed``, ``failed``, ``cancelled``); pass the previous page's
        ``next_cursor`` for the next page."""
        params: dict[str, str | int] = {"limit": limit}
        if workflow is not None:
            params["workflow"] = workflow
        if status is not None:
            params["status"] = status
        if cursor is not None:
            params["cursor"] = cursor
        response = await self._request("GET", "/runs", params=params)
        return RunList.from_dict(self._decode(response))

    async def cancel_run(self, run_id: str) -> WorkflowResult:
        """Cancel a running run; returns it cancelled. Raises ``RunNotFound``, or
        ``Conflict`` when it had already finished."""
        response = await self._request(
            "POST", f"/runs/{_segment(run_id)}/cancel", not_found=RunNotFound
        )
        return WorkflowResult.from_dict(self._decode(response))

    async def wait_for_run(
        self,
        run_id: str,
        *,
        poll_interval: float = 0.2,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline for the polling, not a call
        on_update: Callable[[WorkflowResult], Any] | None = None,
    ) -> WorkflowResult:
        """Poll the run until it has finished and return it.

        Args:
            poll_interval: Seconds between polls.
            timeout: Give up after this many seconds (None: never).
            on_update: Called with the run the first time and whenever it changed (a step
                started or finished ...); may be a coroutine function.

        Raises:
            WaitTimeout: ``timeout`` passed first (the run goes on).
            RunNotFound: No such run.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        last: WorkflowResult | None = None
        while True:
            run = await self.get_run(run_id)
            if run != last:
                last = run
                if on_update is not None:
                    outcome = on_update(run)
                    if inspect.isawaitable(outcome):
                        await outcome
            if run.is_finished:
                return run
            delay = poll_interval
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise WaitTimeout(f"run {run_id} is still {run.status} after {timeout} s")
                delay = min(delay, remaining)
            await asyncio.sleep(delay)

    async def list_workflows(self) -> list[dict[str, Any]]:
        """Every registered workflow's description (steps, parameters, resources)."""
        data = self._decode(await self._request("GET", "/workflows"))
        workflows = data.get("workflows") if isinstance(data, dict) else None
        if not isinstance(workflows, list) or not all(isinstance(w, dict) for w in workflows):
            raise InvalidResponse("workflow list: expected {'workflows': [...]}")
        return workflows

    async def describe_workflow(self, name: str) -> dict[str, Any]:
        """One workflow's description. Raises ``WorkflowNotFound``."""
        response = await self._request(
            "GET", f"/workflows/{_segment(name)}", not_found=WorkflowNotFound
        )
        data = self._decode(response)
        if not isinstance(data, dict):
            raise InvalidResponse("workflow description: expected an object")
        return data

    # -- resource references (the JSON a run's ``resources`` take) --------------------------

    @staticmethod
    def database(*, credentials_ref: str | None = None, **config: Any) -> dict[str, Any]:
        """A ``database`` reference: ``host``, ``port``, ``database``, ``min_size``,
        ``max_size`` ... (PostgreSQL), or ``driver="sqlite", path=...``."""
        return _resource("database", config, credentials_ref)

    @staticmethod
    def cache(*, credentials_ref: str | None = None, **config: Any) -> dict[str, Any]:
        """A ``cache`` reference: Redis with ``host``/``port``/``db``, else in memory."""
        return _resource("cache", config, credentials_ref)

    @staticmethod
    def http_client(*, credentials_ref: str | None = None, **config: Any) -> dict[str, Any]:
        """An ``http_client`` reference: ``base_url``, ``timeout``, ``headers`` ..."""
        return _resource("http_client", config, credentials_ref)

    @staticmethod
    def message_queue(*, credentials_ref: str | None = None, **config: Any) -> dict[str, Any]:
        """A ``message_queue`` reference (NATS): ``servers``, ``jetstream`` ..."""
        return _resource("message_queue", config, credentials_ref)

    @staticmethod
    def ref(name: str) -> str:
        """A shared resource the gateway's operator registered: ``"@name"``."""
        return f"@{name.removeprefix('@')}"

    # -- functions -------------------------------------------------------------------------

    async def invoke(self, function: str, payload: Any = None) -> Any:
        """Invoke function ``function`` with ``payload`` (a JSON value), as AWS Lambda's
        Invoke does, and return its decoded result.

        Raises:
            FunctionError: The handler raised; carries its ``errorType``/``errorMessage``.
            FunctionNotFound: No such function.
            TooManyRequests: Its queue is full; ``retry_after`` says when to try again.
            ServerError: It timed out, crashed or could not start.
        """
        response = await self._request(
            "POST",
            f"/2015-03-31/functions/{_segment(function)}/invocations",
            content=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
        )
        data = self._decode(response) if response.content else None
        if response.headers.get("x-amz-function-error"):
            details = data if isinstance(data, dict) else {}
            trace = details.get("stackTrace")
            raise FunctionError(
                str(details.get("errorType") or "Unhandled"),
                str(details.get("errorMessage") or ""),
                stack_trace=[str(line) for line in trace] if isinstance(trace, list) else None,
                status=response.status_code,
            )
        return data

    # -- plumbing --------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        not_found: type[ClientError] = NotFound,
        **options: Any,
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **options)
        except httpx.TimeoutException as exc:
            raise GatewayUnavailable(
                f"{method} {path}: no answer within {self._timeout} s ({type(exc).__name__}); "
                "a run it started goes on: follow long runs with wait=False and wait_for_run"
            ) from exc
        except httpx.TransportError as exc:
            raise GatewayUnavailable(
                f"{method} {path}: cannot reach the gateway at {self.base_url} "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if response.status_code >= 400:
            raise error_from_response(
                response.status_code, response.content, response.headers, not_found=not_found
            )
        return response

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise InvalidResponse(
                f"the gateway answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
            ) from None
