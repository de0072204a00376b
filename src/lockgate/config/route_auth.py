"""The ``[authorizers.NAME]`` and ``[usage_plans.NAME]`` tables of ``lockgate.toml``, and the
checks that tie routes and ``[auth] authorizer`` to them; every problem is named by its
dotted key, as the other tables' are."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from lockgate.config.problems import Expect, Loc, Problems, check, did_you_mean
from lockgate.config.tables import STRICT
from lockgate.models.function import FUNCTION_NAME_PATTERN
from lockgate.models.routing import Route
from lockgate.models.security.authorizers import (
    MAX_AUDIENCES,
    MAX_ROUTE_SCOPES,
    MAX_TTL,
    Authorizer,
    FunctionAuthorizer,
    IdentitySource,
    JwtAuthorizer,
    UsagePlan,
    check_fetch_url,
)

__all__ = ["build_authorizers", "build_usage_plans", "check_route_auth"]

_URL = Expect("an https:// URL (http:// only to a loopback address)")
_SOURCE = Expect("'$request.header.NAME', '$request.querystring.NAME' or '$context.routeKey'")
_DEFAULT_SOURCE = "$request.header.Authorization"


def _url(value: str) -> str:
    check_fetch_url(value, "the URL")
    return value


def _sources_list(value: str | list[str]) -> str | list[str]:
    for item in [value] if isinstance(value, str) else value:
        IdentitySource.parse(item)
    return value


def _one_source(value: str | list[str]) -> str | list[str]:
    if isinstance(value, list) and len(value) != 1:
        raise ValueError("a JWT authorizer reads one identity source")
    return _sources_list(value)


Url = Annotated[str, AfterValidator(_url), _URL]
_SOURCES = Expect(
    "'$request.header.NAME', '$request.querystring.NAME' or '$context.routeKey' (or an "
    "array of them)"
)


class _JwtTable(BaseModel):
    model_config = STRICT

    type: Literal["jwt"]
    issuer: Url
    audience: Annotated[
        list[str],
        Field(min_length=1, max_length=MAX_AUDIENCES),
        Expect(f"an array of 1 to {MAX_AUDIENCES} strings"),
    ]
    jwks_url: Url | None = None
    # One source, as on API Gateway; an array of one is taken too (it is how the Lambda
    # authorizer's is written).
    identity_source: Annotated[str | list[str], AfterValidator(_one_source), _SOURCE] = (
        _DEFAULT_SOURCE
    )


class _FunctionTable(BaseModel):
    model_config = STRICT

    type: Literal["function"]
    function: str
    payload_format: Literal["1.0", "2.0"] = "2.0"
    simple_responses: bool = False
    identity_source: Annotated[str | list[str], AfterValidator(_sources_list), _SOURCES] = Field(
        default_factory=lambda: [_DEFAULT_SOURCE]
    )
    ttl: int = Field(default=0, ge=0, le=MAX_TTL)


class _QuotaTable(BaseModel):
    model_config = STRICT

    limit: int = Field(ge=1)
    period: Literal["day", "week", "month"]


class _UsagePlanTable(BaseModel):
    model_config = STRICT

    rate: float = Field(gt=0)
    burst: int = Field(ge=1)
    quota: dict[str, Any] | None = None  # checked as a _QuotaTable, so errors name its keys


_TYPES: dict[str, type[_JwtTable] | type[_FunctionTable]] = {
    "jwt": _JwtTable,
    "function": _FunctionTable,
}


def _sources(value: str | list[str]) -> tuple[IdentitySource, ...]:
    return tuple(IdentitySource.parse(s) for s in ([value] if isinstance(value, str) else value))


def _authorizer(name: str, table: _JwtTable | _FunctionTable) -> Authorizer:
    if isinstance(table, _JwtTable):
        return JwtAuthorizer(
            name=name,
            issuer=table.issuer,
            audience=tuple(table.audience),
            jwks_url=table.jwks_url,
            identity_source=_sources(table.identity_source)[0],
        )
    return FunctionAuthorizer(
        name=name,
        function=table.function,
        payload_format=table.payload_format,
        simple_responses=table.simple_responses,
        identity_source=_sources(table.identity_source),
        ttl=table.ttl,
    )


def _named(raw: Mapping[str, Any], section: str, problems: Problems) -> Iterable[tuple[str, Any]]:
    for name, item in raw.items():
        if not FUNCTION_NAME_PATTERN.match(name):
            problems.add(
                (section, name),
                f"expected a name of 1-64 letters, digits, '-' or '_', got {name!r}",
            )
            continue
        yield name, item


def build_authorizers(raw: Mapping[str, Any], problems: Problems) -> dict[str, Authorizer]:
    """``[authorizers.*]``; bad ones are left out, with their problems added."""
    authorizers: dict[str, Authorizer] = {}
    for name, item in _named(raw, "authorizers", problems):
        prefix: Loc = ("authorizers", name)
        if not isinstance(item, Mapping):
            problems.add(prefix, "expected a table")
            continue
        kind = item.get("type")
        model = _TYPES.get(kind) if isinstance(kind, str) else None
        if model is None:
            found = "missing" if kind is None else f"got {kind!r}"
            problems.add((*prefix, "type"), f"expected one of 'jwt', 'function' ({found})")
            continue
        table = check(model, item, prefix, problems)
        if table is None:
            continue
        try:
            authorizers[name] = _authorizer(name, table)
        except ValueError as exc:
            problems.add(prefix, str(exc))
    return authorizers


def build_usage_plans(raw: Mapping[str, Any], problems: Problems) -> dict[str, UsagePlan]:
    """``[usage_plans.*]``; bad ones are left out, with their problems added."""
    plans: dict[str, UsagePlan] = {}
    for name, item in _named(raw, "usage_plans", problems):
        prefix: Loc = ("usage_plans", name)
        table = check(_UsagePlanTable, item, prefix, problems)
        quota = None
        if table is not None and table.quota is not None:
            quota = check(_QuotaTable, table.quota, (*prefix, "quota"), problems)
            if quota is None:
                continue
        if table is None:
            continue
        plans[name] = UsagePlan(
            name=name,
            rate=table.rate,
            burst=table.burst,
            quota_limit=quota.limit if quota else None,
            quota_period=quota.period if quota else "day",
        )
    return plans


def check_route_auth(
    routes: Sequence[tuple[int, Route]],
    *,
    authorizers: Mapping[str, Authorizer],
    plans: Mapping[str, UsagePlan],
    functions: Iterable[str],
    auth_authorizer: str | None,
    problems: Problems,
) -> None:
    """What ties routes, authorizers and ``[auth]`` together: each name a route or
    ``[auth] authorizer`` gives is declared and of the right type, function authorizers
    name declared functions, scopes go with JWT authorizers, and routes that need API keys
    have usage plans to put keys in.

    Args:
        routes: Each route with its index in ``[[routes]]``.
        authorizers, plans: The declared ones (invalid ones already reported).
        functions: The declared functions' names.
        auth_authorizer: ``[auth] authorizer``.
        problems: Where problems are added.
    """
    declared = set(functions)
    listed = ", ".join(sorted(authorizers)) or "none declared"
    for name, authorizer in authorizers.items():
        if isinstance(authorizer, FunctionAuthorizer) and authorizer.function not in declared:
            problems.add(
                ("authorizers", name, "function"),
                f"expected a declared function ({', '.join(sorted(declared)) or 'none'}), "
                f"got {authorizer.function!r}{did_you_mean(authorizer.function, declared)}",
            )
    jwts = sorted(n for n, a in authorizers.items() if isinstance(a, JwtAuthorizer))
    if auth_authorizer is not None and auth_authorizer not in jwts:
        problems.add(
            ("auth", "authorizer"),
            f"expected a declared jwt authorizer ({', '.join(jwts) or 'none declared'}), "
            f"got {auth_authorizer!r}{did_you_mean(auth_authorizer, jwts)}",
        )
    for index, route in routes:
        prefix: Loc = ("routes", index)
        chosen = authorizers.get(route.authorizer) if route.authorizer else None
        if route.authorizer is not None and chosen is None:
            problems.add(
                (*prefix, "authorizer"),
                f"expected a declared authorizer ({listed}), got {route.authorizer!r}"
                f"{did_you_mean(route.authorizer, authorizers)}",
            )
        if route.scopes and not isinstance(chosen, JwtAuthorizer) and chosen is not None:
            problems.add(
                (*prefix, "scopes"), "scopes are checked by a jwt authorizer only: remove them"
            )
        elif route.scopes and route.authorizer is None:
            problems.add((*prefix, "scopes"), "scopes need a jwt authorizer on the route")
        if len(route.scopes) > MAX_ROUTE_SCOPES:
            problems.add((*prefix, "scopes"), f"expected at most {MAX_ROUTE_SCOPES} scopes")
        if route.api_key_required and not plans:
            problems.add(
                (*prefix, "api_key_required"),
                "API keys belong to usage plans, and none is declared: add "
                "[usage_plans.NAME] with rate and burst",
            )
