"""API Gateway authorizers declared once (``[authorizers.NAME]``) and named by routes, and
the usage plans API keys belong to (``[usage_plans.NAME]``).

Two kinds of authorizer, as HTTP APIs have them:

* :class:`JwtAuthorizer`: tokens from an OpenID Connect / OAuth 2.0 issuer, checked
  against the issuer's published keys (its JWKS);
* :class:`FunctionAuthorizer`: a declared function (a Lambda authorizer of the REQUEST
  type) that answers allow or deny, as a simple response or an IAM policy.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "MAX_AUDIENCES",
    "MAX_ROUTE_SCOPES",
    "MAX_TTL",
    "Authorizer",
    "FunctionAuthorizer",
    "IdentitySource",
    "JwtAuthorizer",
    "QuotaPeriod",
    "UsagePlan",
    "check_fetch_url",
]

MAX_AUDIENCES = 50  # API Gateway's limits, kept so a config that works here works there
MAX_ROUTE_SCOPES = 10
MAX_TTL = 3600
QuotaPeriod = Literal["day", "week", "month"]

_SOURCE = re.compile(
    r"^\$(?:request\.(header|querystring)\.([!#$%&'*+.^_`|~0-9A-Za-z-]{1,128})"
    r"|context\.(routeKey|httpMethod|path|stage|requestId))$"
)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True, slots=True)
class IdentitySource:
    """Where a request's identity is read: ``$request.header.NAME`` (any case),
    ``$request.querystring.NAME`` (exact case) or ``$context.routeKey`` (and ``httpMethod``,
    ``path``, ``stage``, ``requestId``), as HTTP APIs spell them.

    Attributes:
        kind: ``header``, ``querystring`` or ``context``.
        name: The header (lower case), parameter or context variable.
    """

    kind: Literal["header", "querystring", "context"]
    name: str

    @classmethod
    def parse(cls, expression: str) -> IdentitySource:
        """The source ``expression`` names.

        Raises:
            ValueError: It is not one of the supported forms; the message lists them.
        """
        found = _SOURCE.fullmatch(expression)
        if found is None:
            raise ValueError(
                f"{expression!r} is not an identity source: expected "
                "'$request.header.NAME', '$request.querystring.NAME' or '$context.routeKey' "
                "(or httpMethod, path, stage, requestId)"
            )
        kind, name, variable = found.groups()
        if kind == "header":
            return cls("header", name.lower())
        if kind == "querystring":
            return cls("querystring", name)
        return cls("context", variable)

    @property
    def expression(self) -> str:
        if self.kind == "context":
            return f"$context.{self.name}"
        return f"$request.{self.kind}.{self.name}"


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_fetch_url(url: str, what: str) -> str:
    """``url`` when keys may be fetched from it: https, or http to a loopback address only
    (a local identity provider, a test), with a host and no credentials in it.

    Raises:
        ValueError: It is not such a URL; the message says why.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an https:// URL, got {url[:200]!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry a user name or password")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"{what} must be https (http is allowed for loopback addresses only), got {url[:200]!r}"
        )
    return url


@dataclass(frozen=True, slots=True)
class JwtAuthorizer:
    """``type = "jwt"``: an HTTP API JWT authorizer.

    Attributes:
        name: The ``[authorizers.NAME]`` key.
        issuer: The ``iss`` tokens must carry, exactly; discovery is read from
            ``{issuer}/.well-known/openid-configuration`` when ``jwks_url`` is not given.
        audience: Tokens' ``aud`` (or, when they have none, ``client_id``) must be one of
            these.
        jwks_url: Where the issuer publishes its signing keys.
        identity_source: Where the token is read (one source, as on API Gateway).
    """

    name: str
    issuer: str
    audience: tuple[str, ...]
    jwks_url: str | None = None
    identity_source: IdentitySource = IdentitySource("header", "authorization")

    def __post_init__(self) -> None:
        check_fetch_url(self.issuer, "issuer")
        if self.jwks_url is not None:
            check_fetch_url(self.jwks_url, "jwks_url")
        if not self.audience or len(self.audience) > MAX_AUDIENCES:
            raise ValueError(f"audience: expected 1 to {MAX_AUDIENCES} entries")
        if self.identity_source.kind == "context":
            raise ValueError("identity_source: a JWT is read from a header or a query parameter")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class FunctionAuthorizer:
    """``type = "function"``: a Lambda authorizer of the REQUEST type.

    Attributes:
        name: The ``[authorizers.NAME]`` key.
        function: The declared function that decides.
        payload_format: The event it receives and the answer it gives: ``"2.0"`` (simple
            responses allowed) or ``"1.0"`` (an IAM policy, as REST APIs use).
        simple_responses: It answers ``{"isAuthorized": bool, "context": {...}}``.
        identity_source: What must be present (else 401, without calling it), and what
            its results are cached by.
        ttl: Seconds a result is reused for the same identity values; 0: never.
    """

    name: str
    function: str
    payload_format: Literal["1.0", "2.0"] = "2.0"
    simple_responses: bool = False
    identity_source: tuple[IdentitySource, ...] = (IdentitySource("header", "authorization"),)
    ttl: int = 0

    def __post_init__(self) -> None:
        if self.simple_responses and self.payload_format != "2.0":
            raise ValueError('simple_responses needs payload_format = "2.0"')
        if not 0 <= self.ttl <= MAX_TTL:
            raise ValueError(f"ttl: expected 0 to {MAX_TTL} seconds, got {self.ttl}")
        if self.ttl and not self.identity_source:
            raise ValueError("ttl: results are cached by the identity sources; name one")


Authorizer = JwtAuthorizer | FunctionAuthorizer


@dataclass(frozen=True, slots=True)
class UsagePlan:
    """``[usage_plans.NAME]``: what each API key of the plan may use.

    Attributes:
        name: The ``[usage_plans.NAME]`` key.
        rate: Requests per second per key, steadily (a token bucket's refill).
        burst: Requests a key may make at once (the bucket's size).
        quota_limit: Requests per key per ``quota_period``; None: no quota.
        quota_period: ``day``, ``week`` (from Monday) or ``month``, in UTC.
    """

    name: str
    rate: float
    burst: int
    quota_limit: int | None = None
    quota_period: QuotaPeriod = "day"

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate > 0 and burst >= 1")
        if self.quota_limit is not None and self.quota_limit < 1:
            raise ValueError("quota.limit: expected at least 1")
