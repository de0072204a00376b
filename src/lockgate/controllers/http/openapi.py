"""The gateway's OpenAPI schema: FastAPI's, plus the Invoke operation (served outside
FastAPI, on the hot path) and, for every gated endpoint, the scope it needs and the
refusals it can answer, read from the access table that guards it."""

from __future__ import annotations

import copy
import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lockgate.controllers.http.auth.access import classify

__all__ = ["gateway_openapi"]


def gateway_openapi(api: FastAPI) -> dict[str, Any]:
    """The schema ``api`` serves at ``/_lockgate/openapi.json`` (made once, then kept)."""
    if api.openapi_schema is None:
        schema = get_openapi(
            title=api.title, version=api.version, description=api.description, routes=api.routes
        )
        # A copy: the refusals are written into each schema's operations, and every app's
        # schema would otherwise share (and add to) these.
        schema["paths"].update(copy.deepcopy(_INVOKE_OPENAPI))
        _document_refusals(schema)
        api.openapi_schema = schema
    return api.openapi_schema


# What the gateway answers before an endpoint runs: a Host it does not go by, no or a bad
# credential, a credential without the scope, a page on another origin. The scope comes from
# the access table (``classify``), the one place that guards every endpoint.
_SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token (`lockgate tokens create`) or a JWT an [auth] issuer signed",
    },
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4, with a key declared in [aws_credentials]",
    },
}


def _document_refusals(schema: dict[str, Any]) -> None:
    """Give every operation but the probes' the scope it needs (as its security requirement)
    and the gate's refusals, both read from the access table."""
    schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
    for path, operations in schema["paths"].items():
        endpoint = classify(re.sub(r"\{[^}]+\}", "x", path))
        if endpoint.scope is None:
            continue
        for operation in operations.values():
            operation["security"] = [{"bearer": [endpoint.scope]}] + (
                [{"sigv4": []}] if endpoint.aws else []
            )
            responses = operation.setdefault("responses", {})
            responses["400"] = responses.get("400") or {
                "description": "A Host the gateway does not answer to (InvalidHost), or a "
                "malformed request"
            }
            responses["401"] = {
                **responses.get("401", {}),
                "description": "No credential, or one the gateway does not accept "
                f"(Unauthorized); this endpoint needs scope {endpoint.scope}",
            }
            own = responses.get("403", {}).get("description")
            responses["403"] = {
                **responses.get("403", {}),
                "description": f"The credential lacks scope {endpoint.scope}, or a page on "
                "another origin (CrossOriginRefused)" + (f"; or: {own}" if own else ""),
            }


# The Invoke operation is served outside FastAPI (it is a hot path), so it is described here.
_INVOKE_OPENAPI: dict[str, Any] = {
    "/2015-03-31/functions/{FunctionName}/invocations": {
        "post": {
            "tags": ["AWS Lambda"],
            "summary": "Invoke a function, as AWS Lambda's Invoke operation does",
            "parameters": [
                {
                    "name": "FunctionName",
                    "in": "path",
                    "required": True,
                    "description": "A name, name:qualifier, or a full or partial ARN",
                    "schema": {"type": "string"},
                },
                {"name": "Qualifier", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "X-Amz-Invocation-Type",
                    "in": "header",
                    "schema": {"enum": ["RequestResponse", "Event", "DryRun"]},
                },
                {"name": "X-Amz-Log-Type", "in": "header", "schema": {"enum": ["None", "Tail"]}},
                {"name": "X-Amz-Client-Context", "in": "header", "schema": {"type": "string"}},
            ],
            "requestBody": {"content": {"application/json": {"schema": {}}}},
            "responses": {
                "200": {
                    "description": "The function's result, or its error object when "
                    "X-Amz-Function-Error is set"
                },
                "202": {"description": "Event: the invocation is stored and will run"},
                "204": {"description": "DryRun: the call would be allowed"},
                "400": {"description": "InvalidRequestContentException"},
                "404": {"description": "ResourceNotFoundException"},
                "413": {"description": "RequestTooLargeException"},
                "429": {"description": "TooManyRequestsException, with Retry-After"},
                "503": {"description": "ServiceException: the function's breaker is open"},
            },
        }
    }
}
