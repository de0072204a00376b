"""The API keys API: make, list and revoke the keys routes with ``api_key_required`` take
(operators only: the ``admin`` scope). A key is in the answer that makes it and nowhere
else, ever; it is made only for a usage plan the running configuration declares."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.auth.credential_bodies import credential_service, read_model
from lockgate.controllers.http.responses import json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.models.security.principals import Credential, CredentialKind
from lockgate.use_cases.auth.usage.api_keys import check_plan

__all__ = ["api_key_view", "api_keys_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "A bad name, or a usage plan the configuration does not declare",
        401: "No credential, or an invalid one",
        403: "The credential lacks the admin scope",
        404: "No API key by that name",
        409: "An API key by that name exists",
        422: "A malformed body",
        503: "The credential store is unavailable",
    }.items()
}


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="1-128 letters, digits or _ . @ -; unique")
    plan: str = Field(description="A usage plan declared in lockgate.toml ([usage_plans.NAME])")


class ApiKeyInfo(BaseModel):
    name: str
    id: str = Field(description="Public: requestContext.identity.apiKeyId in events")
    plan: str | None
    created_at: float = Field(description="Unix seconds")
    last_used_at: float | None = Field(description="Unix seconds (about a minute behind)")


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyInfo]


class NewApiKey(ApiKeyInfo):
    key: str = Field(description="The secret (send it as x-api-key): shown now, never again")


def api_key_view(credential: Credential) -> dict[str, Any]:
    return {
        "name": credential.name,
        "id": credential.credential_id,
        "plan": credential.plan,
        "created_at": credential.created_at,
        "last_used_at": credential.last_used_at,
    }


def api_keys_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["API keys"])

    @router.get("/api-keys", response_model=ApiKeyList, responses=_ERRORS)
    async def list_api_keys() -> Response:
        """Every API key's name, id, plan and times; never a key."""
        if isinstance(keys := credential_service(application, "API keys"), Response):
            return keys
        listed = await keys.list(CredentialKind.API_KEY)
        return json_response({"api_keys": [api_key_view(c) for c in listed]})

    @router.post(
        "/api-keys",
        status_code=201,
        response_model=NewApiKey,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ApiKeyRequest.model_json_schema()}},
            }
        },
    )
    async def create_api_key(request: Request) -> Response:
        """Make an API key for a declared usage plan; the key is in this answer only."""
        if isinstance(keys := credential_service(application, "API keys"), Response):
            return keys
        body = await read_model(request, ApiKeyRequest, '{"name": ..., "plan": ...}')
        if isinstance(body, Response):
            return body
        plan = check_plan(body.plan, application.security.usage_plans)
        credential, secret = await keys.create(CredentialKind.API_KEY, body.name, plan=plan)
        return json_response({**api_key_view(credential), "key": secret}, 201)

    @router.delete("/api-keys/{name}", status_code=204, responses=_ERRORS)
    async def revoke_api_key(name: str) -> Response:
        """Revoke an API key: this node refuses it at once, others within
        ``token_cache_ttl``."""
        if isinstance(keys := credential_service(application, "API keys"), Response):
            return keys
        await keys.revoke(CredentialKind.API_KEY, name)
        return Response(status_code=204)

    return router
