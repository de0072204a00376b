"""The AWS Lambda Invoke API: ``POST /2015-03-31/functions/{name}/invocations``, raw ASGI.

Follows botocore's service model so ``boto3.client("lambda", endpoint_url=...)`` works
unchanged: function errors are 200 with ``X-Amz-Function-Error``; errors that prevented
the run are AWS-shaped (see ``aws_errors``). ``Event`` invocations are stored durably and
answered 202 (see ``AsyncInvocationQueue``); ``DryRun`` checks the call and answers 204.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from lockgate.controllers.http.asgi import arrival, header, read_body, serve_request
from lockgate.controllers.http.aws_errors import aws_error
from lockgate.errors import (
    FunctionInitError,
    FunctionNotFoundError,
    InvalidRequestError,
    InvocationTimeoutError,
    LockgateError,
    RemoteInvocationError,
    RequestTooLargeError,
    WorkerCrashedError,
)
from lockgate.models.context import HttpResponse
from lockgate.models.function import FunctionEntity
from lockgate.models.invocation import InvocationResult
from lockgate.models.trace import TraceContext
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.registry import FunctionRegistry
from lockgate.use_cases.invocations.queue import AsyncInvocationQueue

__all__ = [
    "INVOKE_PATH",
    "InvokeApi",
    "check_client_context",
    "parse_function_identifier",
    "resolve_function",
]

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_LOG_TAIL_BYTES = 4096
# AWS's limits: an Event payload of 1 MB, a client context of 3,583 bytes (base64).
_EVENT_MAX_BYTES = 1024 * 1024
_CLIENT_CONTEXT_MAX = 3583
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_JSON = ("content-type", "application/json")


class InvokeApi:
    """Serves the Invoke operation for the functions of ``registry`` through ``invoker``."""

    def __init__(
        self,
        registry: FunctionRegistry,
        invoker: LambdaInvoker,
        *,
        max_body_bytes: int,
        queue: AsyncInvocationQueue | None = None,
    ) -> None:
        self._registry = registry
        self._invoker = invoker
        self._max_body_bytes = max_body_bytes
        self._queue = queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send, function: str) -> None:
        async def handle(request_id: str) -> HttpResponse:
            try:
                return await self._invoke(scope, receive, function, request_id)
            except LockgateError as error:
                return aws_error(error, request_id)

        await serve_request(send, handle, started=arrival(scope))

    async def _invoke(
        self, scope: Scope, receive: Receive, function: str, request_id: str
    ) -> HttpResponse:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("Qualifier")
        entity, qualifier = resolve_function(self._registry, function, query[0] if query else None)
        invocation_type = header(scope, b"x-amz-invocation-type") or "RequestResponse"
        if invocation_type not in _INVOCATION_TYPES:
            raise InvalidRequestError(
                f"X-Amz-Invocation-Type must be one of {', '.join(_INVOCATION_TYPES)}, "
                f"got {invocation_type!r}"
            )
        if invocation_type == "Event":
            return await self._enqueue(scope, receive, entity, qualifier, request_id)
        client_context = check_client_context(header(scope, b"x-amz-client-context"))
        body = await self._json_body(scope, receive, self._max_body_bytes)
        if invocation_type == "DryRun":
            return HttpResponse(204, (("x-amzn-requestid", request_id),), b"")
        result = await self._invoker.invoke_function(
            entity.name,
            body,
            request_id=request_id,
            client_context=client_context,
            qualifier=qualifier,
            # Used when no span is current (tracing off): the handler joins the caller's trace.
            trace=TraceContext.from_traceparent(header(scope, b"traceparent")),
        )
        tail = header(scope, b"x-amz-log-type") == "Tail"
        return _to_response(result, request_id, tail)

    async def _enqueue(
        self,
        scope: Scope,
        receive: Receive,
        function: FunctionEntity,
        qualifier: str | None,
        request_id: str,
    ) -> HttpResponse:
        """Store an ``Event`` invocation and answer 202 once it is durable."""
        if self._queue is None:
            raise InvalidRequestError(
                "Event (asynchronous) invocations are not enabled on this gateway"
            )
        body = await self._json_body(scope, receive, min(self._max_body_bytes, _EVENT_MAX_BYTES))
        await self._queue.submit(
            function.name,
            body,
            qualifier,
            request_id=request_id,
            trace=TraceContext.from_traceparent(header(scope, b"traceparent")),
        )
        return HttpResponse(202, (("x-amzn-requestid", request_id),), b"")

    async def _json_body(self, scope: Scope, receive: Receive, limit: int) -> bytes:
        body = await read_body(scope, receive, limit)
        if body is None:
            raise RequestTooLargeError(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
                limit=limit,
            )
        if body.strip():
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequestError(
                    f"Could not parse request body into json: {exc}"
                ) from None
        return body


def resolve_function(
    registry: FunctionRegistry, function_name: str, qualifier: str | None
) -> tuple[FunctionEntity, str | None]:
    """The function and the qualifier the caller gave, if any, from a name,
    ``name:qualifier``, or a full or partial ARN (plus the ``Qualifier`` parameter).

    Raises:
        FunctionNotFoundError: No such function, or a qualifier that is neither
            ``$LATEST`` nor one of its aliases (AWS answers both with 404).
        InvalidRequestError: The name and the parameter give different qualifiers.
    """
    name, inline = parse_function_identifier(function_name)
    if inline is not None and qualifier is not None and inline != qualifier:
        raise InvalidRequestError(
            f"The derived qualifier from the function name does not match the specified "
            f"qualifier ({inline!r} and {qualifier!r})"
        )
    given = inline or qualifier
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    if name not in registry:
        raise FunctionNotFoundError(f"Function not found: {arn}", function=name)
    entity = registry.get(name)
    if not entity.accepts_qualifier(given):
        # AWS's words exactly; the aliases a caller may use are in GetFunction's answer.
        raise FunctionNotFoundError(f"Function not found: {arn}:{given}", function=name)
    return entity, given


def parse_function_identifier(identifier: str) -> tuple[str, str | None]:
    """The function name and the qualifier (if any) of a name, ``name:qualifier``, or a full
    or partial ARN, as the Lambda API accepts them."""
    parts = identifier.split(":")
    if len(parts) >= 7 and parts[0] == "arn":  # arn:aws:lambda:region:account:function:name[:q]
        return parts[6], (parts[7] if len(parts) > 7 else None)
    if len(parts) >= 3 and parts[1] == "function":  # account:function:name[:q]
        return parts[2], (parts[3] if len(parts) > 3 else None)
    return parts[0], (parts[1] if len(parts) > 1 else None)


def check_client_context(value: str | None) -> str | None:
    """``X-Amz-Client-Context`` as given, once it is known to be base64 of a JSON object
    within AWS's size limit.

    Raises:
        InvalidRequestError: It is not.
    """
    if value is None:
        return None
    if len(value) > _CLIENT_CONTEXT_MAX:
        raise InvalidRequestError(
            f"Client context must be at most {_CLIENT_CONTEXT_MAX} bytes, got {len(value)}"
        )
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        decoded = None
    if not isinstance(decoded, dict):
        raise InvalidRequestError("Client context must be a valid Base64-encoded JSON object.")
    return value


def _to_response(result: InvocationResult, request_id: str, tail: bool) -> HttpResponse:
    headers = [_JSON, ("x-amzn-requestid", request_id), ("x-amz-executed-version", "$LATEST")]
    if tail:
        headers.append(
            ("x-amz-log-result", base64.b64encode(result.logs[-_LOG_TAIL_BYTES:]).decode())
        )
    error = result.failure
    if error is None:
        if result.function_error is not None:
            headers.append(("x-amz-function-error", result.function_error))
        return HttpResponse(200, tuple(headers), result.payload or b"", result.handler_ms)
    if isinstance(error, InvocationTimeoutError | WorkerCrashedError | FunctionInitError):
        # The function ran (or tried to) and failed: Lambda reports that as a function error.
        headers.append(("x-amz-function-error", "Unhandled"))
        body = json.dumps(_function_failure(error, request_id)).encode()
        return HttpResponse(200, tuple(headers), body, result.handler_ms)
    if isinstance(error, RemoteInvocationError):
        # The full message (the AWS ARN, its account) is in the gateway's log, not here.
        error = RemoteInvocationError(
            f"the function's remote backend failed ({error.remote_code}); the gateway's log "
            "has the details",
            code=error.remote_code,
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
