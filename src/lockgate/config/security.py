"""The access tables of ``lockgate.toml`` (``[auth]``, ``[limits]``, ``[cors]``,
``[authorizers.NAME]``, ``[usage_plans.NAME]``, ``[aws_credentials.NAME]``), checked key by
key into a :class:`SecurityConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from lockgate.config.problems import Expect, Loc, Problems, check
from lockgate.config.route_auth import build_authorizers, build_usage_plans
from lockgate.config.tables import STRICT
from lockgate.models.secret import SECRET_NAME
from lockgate.models.security.config import AuthConfig, ClientLimits, CorsConfig, SecurityConfig
from lockgate.models.security.principals import FUNCTIONS_INVOKE, Surface, check_scope
from lockgate.models.security.sigv4 import ACCESS_KEY_ID, AwsCredential

__all__ = ["CorsTable", "build_security", "cors_config"]

_AUTH_DEFAULTS = AuthConfig()
_LIMIT_DEFAULTS = ClientLimits()


class _AuthTable(BaseModel):
    model_config = STRICT

    allow_anonymous: list[Literal["lambda_api", "workflow_api", "operations"]] | None = None
    authorizer: str | None = Field(default=None, min_length=1)
    token_cache_ttl: float = Field(default=_AUTH_DEFAULTS.token_cache_ttl, ge=0, le=3600)


class _LimitsTable(BaseModel):
    model_config = STRICT

    rate: float = Field(default=_LIMIT_DEFAULTS.rate, gt=0)
    burst: int = Field(default=_LIMIT_DEFAULTS.burst, ge=1)
    max_runs_per_principal: int = Field(default=_LIMIT_DEFAULTS.max_runs_per_principal, ge=1)


class CorsTable(BaseModel):
    """``[cors]``, or a route's ``cors``: HTTP API's CORS settings."""

    model_config = STRICT

    allow_origins: list[str] = Field(default_factory=list)
    allow_methods: list[str] = Field(default_factory=list)
    allow_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] = Field(default_factory=list)
    max_age: int | None = Field(default=None, ge=-1, le=86400)
    allow_credentials: bool = False


def _function_glob(value: str) -> str:
    check_scope(f"{FUNCTIONS_INVOKE}:{value}")  # ValueError: the Expect says what fits
    return value


class _AwsCredentialTable(BaseModel):
    """``[aws_credentials.NAME]``: a static SigV4 key for the Lambda API."""

    model_config = STRICT

    access_key_id: Annotated[
        str,
        Field(pattern=f"^{ACCESS_KEY_ID.pattern}$"),
        Expect("an AWS access key id: 16-128 upper-case letters and digits (AKIA...)"),
    ]
    secret_ref: Annotated[
        str,
        Field(pattern=f"^{SECRET_NAME.pattern}$"),
        Expect("the name of the secret holding the secret access key"),
    ]
    # No default: a key that may call every function is written ["*"], on purpose.
    allow_functions: list[
        Annotated[
            str,
            AfterValidator(_function_glob),
            Expect("a function name or glob of 1-64 letters, digits, _ - * ?"),
        ]
    ]


def _aws_credentials(data: Mapping[str, Any], problems: Problems) -> tuple[AwsCredential, ...]:
    """``[aws_credentials.NAME]`` tables; an access key id may be declared once."""
    found: list[AwsCredential] = []
    owners: dict[str, str] = {}
    for name, raw in _table(data, "aws_credentials").items():
        prefix: Loc = ("aws_credentials", name)
        if not isinstance(raw, Mapping):
            continue  # reported by the file's shape check
        table = check(_AwsCredentialTable, raw, prefix, problems)
        if table is None:
            continue
        if (owner := owners.setdefault(table.access_key_id, name)) != name:
            problems.add((*prefix, "access_key_id"), f"the same key as aws_credentials.{owner}")
            continue
        try:
            found.append(
                AwsCredential(
                    name, table.access_key_id, table.secret_ref, tuple(table.allow_functions)
                )
            )
        except ValueError as exc:  # the name: the table checked every field
            problems.add(prefix, str(exc))
    return tuple(found)


def cors_config(table: CorsTable | None, prefix: Loc, problems: Problems) -> CorsConfig | None:
    """``table`` as a ``CorsConfig``, or None (with the problem added) when its values do
    not fit together."""
    if table is None:
        return None
    try:
        return CorsConfig(
            allow_origins=tuple(table.allow_origins),
            allow_methods=tuple(table.allow_methods),
            allow_headers=tuple(table.allow_headers),
            expose_headers=tuple(table.expose_headers),
            max_age=table.max_age,
            allow_credentials=table.allow_credentials,
        )
    except ValueError as exc:
        problems.add(prefix, str(exc))
        return None


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    return value if isinstance(value, Mapping) else {}  # a non-table is reported elsewhere


def build_security(data: Mapping[str, Any], problems: Problems) -> SecurityConfig:
    """The ``[auth]``, ``[limits]``, ``[cors]``, ``[authorizers.*]``, ``[usage_plans.*]`` and
    ``[aws_credentials.*]`` tables of a parsed file; problems are added for bad values (the
    defaults stand in for them, so the rest of the file is still checked)."""
    prefix: Loc = ("auth",)
    auth = check(_AuthTable, _table(data, "auth"), prefix, problems) or _AuthTable()
    limits = check(_LimitsTable, _table(data, "limits"), ("limits",), problems) or _LimitsTable()
    cors = None
    if "cors" in data:
        cors = cors_config(
            check(CorsTable, _table(data, "cors"), ("cors",), problems), ("cors",), problems
        )
    return SecurityConfig(
        auth=AuthConfig(
            allow_anonymous=frozenset(map(Surface, auth.allow_anonymous))
            if auth.allow_anonymous is not None
            else None,
            authorizer=auth.authorizer,
            token_cache_ttl=auth.token_cache_ttl,
        ),
        limits=ClientLimits(
            rate=limits.rate,
            burst=limits.burst,
            max_runs_per_principal=limits.max_runs_per_principal,
        ),
        cors=cors,
        authorizers=build_authorizers(_table(data, "authorizers"), problems),
        usage_plans=build_usage_plans(_table(data, "usage_plans"), problems),
        aws_credentials=_aws_credentials(data, problems),
    )
