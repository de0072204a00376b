"""The tokens API: make, list and revoke bearer tokens over HTTP (operators only: the
``admin`` scope). A token's secret is in the answer that makes it and nowhere else, ever."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from lockgate.application import Application
from lockgate.controllers.http.auth.credential_bodies import credential_service, read_model
from lockgate.controllers.http.responses import json_response
from lockgate.controllers.http.workflow_api import ErrorBody
from lockgate.models.security.principals import SCOPES, Credential, CredentialKind

__all__ = ["token_view", "tokens_router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "No credential, or an invalid one",
        403: "The credential lacks the admin scope",
        404: "No token by that name",
        409: "A token by that name exists",
        422: "A malformed body, name or scope",
        503: "The credential store is unavailable",
    }.items()
}


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="1-128 letters, digits or _ . @ -; unique")
    scopes: list[str] = Field(description=f"Any of {', '.join(SCOPES)} (and NAME-narrowed forms)")


class TokenInfo(BaseModel):
    name: str
    scopes: list[str]
    created_at: float = Field(description="Unix seconds")
    last_used_at: float | None = Field(description="Unix seconds (about a minute behind)")


class TokenList(BaseModel):
    tokens: list[TokenInfo]


class NewToken(TokenInfo):
    token: str = Field(description="The secret: shown now, never again")


def token_view(credential: Credential) -> dict[str, Any]:
    return {
        "name": credential.name,
        "scopes": list(credential.scopes),
        "created_at": credential.created_at,
        "last_used_at": credential.last_used_at,
    }


def tokens_router(application: Application) -> APIRouter:
    router = APIRouter(tags=["Tokens"])

    @router.get("/tokens", response_model=TokenList, responses=_ERRORS)
    async def list_tokens() -> Response:
        """Every token's name, scopes and times; never a secret."""
        if isinstance(tokens := credential_service(application, "tokens"), Response):
            return tokens
        listed = await tokens.list(CredentialKind.TOKEN)
        return json_response({"tokens": [token_view(c) for c in listed]})

    @router.post(
        "/tokens",
        status_code=201,
        response_model=NewToken,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": TokenRequest.model_json_schema()}},
            }
        },
    )
    async def create_token(request: Request) -> Response:
        """Make a token; its secret is in this answer only."""
        if isinstance(tokens := credential_service(application, "tokens"), Response):
            return tokens
        body = await read_model(request, TokenRequest, '{"name": ..., "scopes": [...]}')
        if isinstance(body, Response):
            return body
        credential, secret = await tokens.create(
            CredentialKind.TOKEN, body.name, scopes=body.scopes
        )
        return json_response({**token_view(credential), "token": secret}, 201)

    @router.delete("/tokens/{name}", status_code=204, responses=_ERRORS)
    async def revoke_token(name: str) -> Response:
        """Revoke a token: this node refuses it at once, others within ``token_cache_ttl``."""
        if isinstance(tokens := credential_service(application, "tokens"), Response):
            return tokens
        await tokens.revoke(CredentialKind.TOKEN, name)
        return Response(status_code=204)

    return router
