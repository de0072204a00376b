"""The AWS Lambda Invoke API: ``POST /2015-03-31/functions/{name}/invocations``.

Follows botocore's service model so ``boto3.client("lambda", endpoint_url=...)`` works
unchanged: function errors are 200 with ``X-Amz-Function-Error``; errors that prevented
the run are AWS-shaped (see ``aws_errors``).
"""

from __future__ import annotations

import base64
import json

from fastapi import APIRouter, Request
from starlette.responses import Response

from lockgate.bootstrap import Application
from lockgate.controllers.http.aws_errors import aws_error
from lockgate.controllers.http.requests import HANDLER_MS_KEY, read_body, request_id_of
from lockgate.errors import (
    FunctionInitError,
    FunctionNotFoundError,
    InvalidRequestError,
    InvocationTimeoutError,
    LockgateError,
    WorkerCrashedError,
)
from lockgate.models.invocation import InvocationResult

__all__ = ["lambda_router"]

_LOG_TAIL_BYTES = 4096
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def lambda_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["AWS Lambda"])

    @router.post("/2015-03-31/functions/{function_name}/invocations", response_model=None)
    async def invoke(function_name: str, request: Request) -> Response:
        """Invoke a function, as AWS Lambda's Invoke operation does."""
        request_id = request_id_of(request)
        try:
            return await _invoke(application, function_name, request, request_id)
        except LockgateError as error:
            return aws_error(error, request_id)

    return router


async def _invoke(
    application: Application, function_name: str, request: Request, request_id: str
) -> Response:
    name = _resolve_name(function_name, request.query_params.get("Qualifier"))
    if name not in application.registry:
        raise FunctionNotFoundError(
            f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}",
            function=name,
        )
    invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type not in _INVOCATION_TYPES:
        raise InvalidRequestError(
            f"X-Amz-Invocation-Type must be one of {', '.join(_INVOCATION_TYPES)}, "
            f"got {invocation_type!r}"
        )
    body = await read_body(request, application.settings.max_body_bytes)
    if body.strip():
        try:
            json.loads(body)
        except ValueError as exc:
            raise InvalidRequestError(f"Could not parse request body into json: {exc}") from None
    if invocation_type == "DryRun":
        return Response(status_code=204, headers={"x-amzn-requestid": request_id})
    if invocation_type == "Event":
        raise InvalidRequestError(
            "Event (asynchronous) invocations are not supported by this gateway yet; "
            "use RequestResponse"
        )
    result = await application.invoker.invoke_function(
        name,
        body,
        request_id=request_id,
        client_context=request.headers.get("x-amz-client-context"),
    )
    request.scope[HANDLER_MS_KEY][0] = result.handler_ms
    return _to_response(result, request_id, request.headers.get("x-amz-log-type") == "Tail")


def _resolve_name(function_name: str, qualifier: str | None) -> str:
    """Accepts a name, ``name:qualifier``, or a full or partial ARN."""
    parts = function_name.split(":")
    if len(parts) >= 7 and parts[0] == "arn":  # arn:aws:lambda:region:account:function:name[:q]
        name, inline_qualifier = parts[6], (parts[7] if len(parts) > 7 else None)
    elif len(parts) >= 3 and parts[1] == "function":  # account:function:name[:q]
        name, inline_qualifier = parts[2], (parts[3] if len(parts) > 3 else None)
    else:
        name, inline_qualifier = parts[0], (parts[1] if len(parts) > 1 else None)
    for candidate in (inline_qualifier, qualifier):
        if candidate not in (None, "$LATEST"):
            raise FunctionNotFoundError(
                f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:"
                f"{name}:{candidate}",
                function=name,
            )
    return name


def _to_response(result: InvocationResult, request_id: str, tail: bool) -> Response:
    headers = {"x-amzn-requestid": request_id, "x-amz-executed-version": "$LATEST"}
    if tail:
        headers["x-amz-log-result"] = base64.b64encode(result.logs[-_LOG_TAIL_BYTES:]).decode()
    error = result.error
    if error is None:
        if result.function_error is not None:
            headers["x-amz-function-error"] = result.function_error
        return Response(result.payload or b"", 200, headers, media_type="application/json")
    if isinstance(error, InvocationTimeoutError | WorkerCrashedError | FunctionInitError):
        # The function ran (or tried to) and failed: Lambda reports that as a function error.
        headers["x-amz-function-error"] = "Unhandled"
        return Response(
            json.dumps(_function_failure(error, request_id)),
            200,
            headers,
            media_type="application/json",
        )
    return aws_error(error, request_id)


def _function_failure(error: LockgateError, request_id: str) -> dict[str, str]:
    """The error object Lambda returns for a timeout, a crash or a failed init."""
    if isinstance(error, FunctionInitError):
        return {
            "errorMessage": str(error.fields.get("error_message", error.message)),
            "errorType": error.error_type,
            "requestId": request_id,
        }
    return {
        "errorMessage": f"RequestId: {request_id} Error: {error.message}",
        "errorType": error.code,
    }
