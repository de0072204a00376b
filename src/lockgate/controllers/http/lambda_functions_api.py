"""AWS Lambda's ``ListFunctions`` and ``GetFunction``, so ``boto3``'s ``list_functions``,
``get_function`` (and the AWS CLI, SAM-style tooling) see the declared functions.

A function declared with an ``image`` is reported as AWS reports image functions
(``PackageType: Image``, no ``Runtime``, ``Code.ImageUri``; its handler as the image's
``Command``). Lockgate records the image and does not pull it: its workers are processes
on this machine, which the description says.

Environment variables are left out of every configuration: their values may be secrets,
and these endpoints answer every caller with ``functions:invoke``. A caller whose scope is
narrowed to some functions (``functions:invoke:reports-*``) is listed only those.
"""

from __future__ import annotations

import base64
import hashlib
import math
import platform
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lockgate.controllers.http.auth.access import principal_of
from lockgate.controllers.http.aws_errors import aws_error
from lockgate.controllers.http.lambda_api import resolve_function
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import InvalidRequestError, LockgateError
from lockgate.models.function import FunctionEntity
from lockgate.models.ids import new_request_id
from lockgate.models.security.principals import FUNCTIONS_INVOKE
from lockgate.use_cases.functions.registry import FunctionRegistry

__all__ = ["function_code", "function_configuration", "lambda_functions_router"]

_ROLE = "arn:aws:iam::000000000000:role/lockgate"
# AWS-shaped errors (``x-amzn-errortype`` names the exception), as boto3 expects them.
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "InvalidRequestContentException (a bad MaxItems or qualifier)"},
    404: {"description": "ResourceNotFoundException: no such function or alias"},
    422: {"model": ErrorBody, "description": "A query parameter of the wrong type"},
}
_ARCHITECTURE = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
_RUNTIMES = {"python": "python3.11", "provided": "provided.al2023"}


def function_configuration(
    function: FunctionEntity, declared_at: str, qualifier: str | None = None
) -> dict[str, Any]:
    """The ``FunctionConfiguration`` botocore's model describes, for ``function``."""
    arn = f"{function.arn}:{qualifier}" if qualifier else function.arn
    digest = hashlib.sha256(function.config_hash.encode()).digest()
    configuration: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": arn,
        "Role": _ROLE,
        "Handler": function.handler,
        "CodeSize": 0,
        "Description": _description(function),
        "Timeout": math.ceil(function.timeout_seconds),
        "MemorySize": function.memory_size_mb,
        "LastModified": declared_at,
        "CodeSha256": base64.b64encode(digest).decode(),
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": function.config_hash,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [_ARCHITECTURE],
        "EphemeralStorage": {"Size": 512},
    }
    if function.image is not None:  # as AWS: no Runtime nor Handler; the handler is Command
        configuration["PackageType"] = "Image"
        del configuration["Handler"]
        command = list(function.command) or [function.handler]
        configuration["ImageConfigResponse"] = {"ImageConfig": {"Command": command}}
    elif function.backend == "local":
        configuration["Runtime"] = _RUNTIMES[function.runtime]
    return configuration


def function_code(function: FunctionEntity) -> dict[str, Any]:
    """``GetFunction``'s ``Code``: the image a function is packaged as, if it has one."""
    if function.image is not None:
        return {"RepositoryType": "Lockgate", "ImageUri": function.image}
    return {"RepositoryType": "Lockgate"}


def _description(function: FunctionEntity) -> str:
    if function.image is not None:
        return (
            f"{function.backend} function served by Lockgate; image {function.image} is "
            "recorded, not pulled: it runs as a worker process"
        )
    return f"{function.backend} function served by Lockgate"


def _aws_response(error: LockgateError) -> Response:
    reply = aws_error(error, new_request_id())
    return Response(reply.body, reply.status_code, headers=dict(reply.headers))


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), 200, media_type="application/json")


def lambda_functions_router(registry: FunctionRegistry) -> APIRouter:
    """``GET /2015-03-31/functions/`` and ``GET /2015-03-31/functions/{name}``."""
    router = APIRouter(tags=["AWS Lambda"])
    declared_at = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())

    @router.get(
        "/2015-03-31/functions/",
        summary="List functions, as AWS ListFunctions",
        responses=_ERRORS,
    )
    @router.get("/2015-03-31/functions", include_in_schema=False)
    async def list_functions(
        request: Request,
        max_items: Annotated[int | None, Query(alias="MaxItems")] = None,
        marker: Annotated[str | None, Query(alias="Marker")] = None,
    ) -> Response:
        if max_items is not None and not 1 <= max_items <= 10000:
            return _aws_response(
                InvalidRequestError(f"MaxItems must be between 1 and 10000, got {max_items}")
            )
        principal = principal_of(request)
        functions = sorted(
            (f for f in registry.all() if principal.allows(FUNCTIONS_INVOKE, f.name)),
            key=lambda f: f.name,
        )
        if marker:
            functions = [f for f in functions if f.name > marker]
        page = functions[: max_items or 50]
        body: dict[str, Any] = {"Functions": [function_configuration(f, declared_at) for f in page]}
        if len(functions) > len(page):
            body["NextMarker"] = page[-1].name
        return _json(body)

    @router.get(
        "/2015-03-31/functions/{function_name}",
        summary="Describe a function, as AWS GetFunction",
        responses=_ERRORS,
    )
    async def get_function(
        function_name: str, qualifier: Annotated[str | None, Query(alias="Qualifier")] = None
    ) -> Response:
        try:
            function, given = resolve_function(registry, function_name, qualifier)
        except LockgateError as error:
            return _aws_response(error)
        return _json(
            {
                "Configuration": function_configuration(function, declared_at, given),
                "Code": function_code(function),
                "Tags": {},
            }
        )

    return router
