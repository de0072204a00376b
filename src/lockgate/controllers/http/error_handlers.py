"""The edge where errors become HTTP responses, for every endpoint FastAPI serves.

Every error, ours or a malformed request's, has one shape::

    {"error": {"code": "<LockgateError.code or ValidationError>", "message": "..."}}

with the status ``lockgate.errors.http_status`` gives its class (the one table, looked up
by class hierarchy). Messages name fields, never values: a request may hold secrets. The
hot paths (routes, Invoke) answer errors in their own shapes (``asgi``, ``aws_errors``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from lockgate.controllers.http.asgi import ClientGoneError, log_client_gone
from lockgate.controllers.http.responses import error_response as _error
from lockgate.errors import LockgateError, TooManyRequestsError, http_status

__all__ = ["VALIDATION", "install_error_handlers", "parse_body", "validation_message"]

VALIDATION = "ValidationError"
M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes) -> M | Response:
    """``raw`` (empty: ``{}``) as ``model``, or the 422 naming what was wrong where, never
    the values sent (a body may hold secrets)."""
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        return _error(422, VALIDATION, validation_message(errors))


def _where(loc: Iterable[str | int]) -> str:
    """``("body", "parameters")`` -> ``body.parameters``; list indexes in brackets."""
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else part)
    return where


def validation_message(errors: Iterable[Mapping[str, Any]]) -> str:
    """Each problem as ``where: what was expected``; the offending values are left out."""
    problems: list[str] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            position = next((p for p in loc if isinstance(p, int)), None)
            detail = (error.get("ctx") or {}).get("error", "")
            at = f" at character {position}" if position is not None else ""
            problems.append(f"body: not valid JSON{at}" + (f" ({detail})" if detail else ""))
        else:
            problems.append(f"{_where(loc) or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(dict.fromkeys(problems)) or "the request is invalid"


async def _on_lockgate_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, LockgateError)
    headers = (
        {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequestsError) else None
    )
    return _error(http_status(exc), exc.code, exc.message, headers)


async def _on_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _error(422, VALIDATION, validation_message(exc.errors()))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, ClientDisconnect):  # FastAPI's 400 for a body cut short
        return await _on_client_gone(request, exc)
    codes = {404: "RouteNotFound", 405: "MethodNotAllowed"}
    message = {
        404: f"no endpoint {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path only.
        headers = {"Allow": ", ".join(_allowed_methods(request.app, request.url.path))}
    return _error(exc.status_code, codes.get(exc.status_code, "HTTPError"), message, headers)


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the schema documents for a path template matching ``path``."""
    templates: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "lockgate_templates", None
    )
    if templates is None:
        templates = [
            (
                re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"),
                [method.upper() for method in operations],
            )
            for template, operations in app.openapi()["paths"].items()
        ]
        app.state.lockgate_templates = templates
    return sorted({m for pattern, methods in templates if pattern.match(path) for m in methods})


async def _on_client_gone(request: Request, _exc: Exception) -> Response:
    log_client_gone(request.scope)
    # Never sent (the server drops a response to a closed connection); 499 as nginx logs it.
    return Response(status_code=499)


async def _on_unexpected(_: Request, _exc: Exception) -> Response:
    # Starlette re-raises the exception after this response is sent, so the server logs it.
    return _error(500, "InternalError", "the gateway failed to serve the request; see its log")


def install_error_handlers(api: FastAPI) -> None:
    """Give every error FastAPI serves the one error shape (see the module docstring)."""
    api.add_exception_handler(LockgateError, _on_lockgate_error)
    api.add_exception_handler(RequestValidationError, _on_validation_error)
    api.add_exception_handler(HTTPException, _on_http_error)
    api.add_exception_handler(ClientGoneError, _on_client_gone)
    api.add_exception_handler(ClientDisconnect, _on_client_gone)
    api.add_exception_handler(Exception, _on_unexpected)
