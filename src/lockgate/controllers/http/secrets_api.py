"""The secrets API: write, list and delete secrets; values are never read back over HTTP
unless ``secrets_http_read`` is on.

Operators only (the ``admin`` scope; see ``auth.access``). Responses and errors name secrets,
never their values.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lockgate.bootstrap import Application
from lockgate.controllers.http.asgi import read_body
from lockgate.controllers.http.responses import error_response, json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.errors import RequestTooLargeError
from lockgate.use_cases.secrets.setup import SecretBackend

__all__ = ["secrets_router"]


class SecretMetadataModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    created_at: float = Field(description="Unix seconds")
    updated_at: float = Field(description="Unix seconds")
    key_id: str = Field(description="The master key that wraps this secret's data key")
    version: int


class SecretList(BaseModel):
    secrets: list[SecretMetadataModel]


class SecretWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="Any JSON value, e.g. {'user': ..., 'password': ...}")


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        403: "Reading values is off (the gateway's read_values setting)",
        404: "No such secret",
        409: "MasterKeyRotated: the secrets were rotated to a master key this gateway does "
        "not hold (writes are refused until it is restarted with it; nothing was written), "
        "or SecretDecryptionError: a stored secret fails authentication",
        422: "Malformed body or secret name",
        503: "The gateway runs without secrets, their store is unavailable, or its master "
        "key cannot be read",
    }.items()
}


def secrets_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Secrets"])
    settings = application.settings

    def backend() -> SecretBackend | Response:
        secrets = application.secret_manager
        if secrets is None:
            return error_response(
                503,
                "SecretsNotConfigured",
                "this gateway runs without secrets: make a master key (lockgate secrets "
                "init-key) and set LOCKGATE_MASTER_KEY_FILE, or set secrets = env",
            )
        return secrets

    @router.get("/secrets", response_model=SecretList, responses=_ERRORS)
    async def list_secrets() -> Response:
        """Every secret's name and metadata; never a value."""
        if isinstance(secrets := backend(), Response):
            return secrets
        listed = await secrets.list_secrets()
        return json_response({"secrets": [asdict(m) for m in listed]})

    @router.put(
        "/secrets/{name:path}",
        response_model=SecretMetadataModel,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SecretWrite.model_json_schema()}},
            }
        },
    )
    async def store_secret(name: str, request: Request) -> Response:
        """Encrypt and store ``{"value": ...}`` as ``name`` (replacing it: version + 1)."""
        if isinstance(secrets := backend(), Response):
            return secrets
        limit = settings.max_body_bytes
        raw = await read_body(request.scope, request.receive, limit)
        if raw is None:
            raise RequestTooLargeError(
                f"the request body is over the limit of {limit} bytes", limit=limit
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return error_response(422, "ValidationError", "body: not valid JSON")
        if not isinstance(body, dict) or set(body) != {"value"}:
            return error_response(
                422, "ValidationError", 'body: expected {"value": <any JSON value>}'
            )
        metadata = await secrets.store_secret(name, body["value"])
        return json_response(asdict(metadata))

    @router.get("/secrets/{name:path}", responses=_ERRORS)
    async def read_secret(name: str) -> Response:
        """A secret's value: refused unless the gateway sets ``secrets_http_read``."""
        if not settings.secrets_http_read:
            return error_response(
                403,
                "SecretReadDisabled",
                "secret values are never read back over HTTP; set secrets_http_read = true "
                "to allow it (or read them with get_secret inside the gateway)",
            )
        if isinstance(secrets := backend(), Response):
            return secrets
        value = await secrets.get_secret(name)
        return json_response({"name": name, "value": value.reveal()})

    @router.delete("/secrets/{name:path}", status_code=204, responses=_ERRORS)
    async def delete_secret(name: str) -> Response:
        """Remove a secret."""
        if isinstance(secrets := backend(), Response):
            return secrets
        await secrets.delete_secret(name)
        return Response(status_code=204)

    return router
