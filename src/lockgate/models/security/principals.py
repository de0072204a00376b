"""Who is calling: principals, the scopes they hold, and the stored credentials that prove
them (bearer tokens and API keys).

A scope names what a caller may do on one surface of the gateway:

=====================  ===============================================================
``functions:invoke``   the Lambda API (Invoke, ListFunctions, GetFunction)
``workflows:run``      list and describe workflows, start runs
``runs:read``          read every run; ``runs:read:own`` only the runs the caller started
``runs:cancel``        cancel runs
``ops:read``           ``/health``, ``/metrics``, ``/modules``, the API docs
``admin``              everything, including secrets, jobs, Event invocations and tokens
=====================  ===============================================================

``functions:invoke`` and ``workflows:run`` may be narrowed to names: ``functions:invoke:echo``,
``workflows:run:reports-*`` (shell-style wildcards).
"""

from __future__ import annotations

import enum
import fnmatch
import re
from dataclasses import dataclass, field

__all__ = [
    "ADMIN",
    "ANONYMOUS_NAME",
    "CREDENTIAL_NAME",
    "FUNCTIONS_INVOKE",
    "OPS_READ",
    "RUNS_CANCEL",
    "RUNS_READ",
    "RUNS_READ_OWN",
    "SCOPES",
    "WORKFLOWS_RUN",
    "Credential",
    "CredentialKind",
    "Principal",
    "Surface",
    "check_scope",
]

FUNCTIONS_INVOKE = "functions:invoke"
WORKFLOWS_RUN = "workflows:run"
RUNS_READ = "runs:read"
RUNS_READ_OWN = "runs:read:own"
RUNS_CANCEL = "runs:cancel"
OPS_READ = "ops:read"
ADMIN = "admin"
SCOPES = (FUNCTIONS_INVOKE, WORKFLOWS_RUN, RUNS_READ, RUNS_READ_OWN, RUNS_CANCEL, OPS_READ, ADMIN)
_NARROWABLE = (FUNCTIONS_INVOKE, WORKFLOWS_RUN)
_NAME_GLOB = re.compile(r"[A-Za-z0-9_*?\-]{1,64}")
CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@\-]{0,127}")
"""A token's or API key's name: what lists, logs and run records show."""
ANONYMOUS_NAME = "anonymous"


def check_scope(scope: str) -> str:
    """``scope`` when it is one Lockgate knows (see the module docstring).

    Raises:
        ValueError: It is not; the message lists the scopes.
    """
    if scope in SCOPES:
        return scope
    for base in _NARROWABLE:
        target = scope.removeprefix(base + ":")
        if target != scope and _NAME_GLOB.fullmatch(target):
            return scope
    raise ValueError(
        f"unknown scope {scope!r}: expected one of {', '.join(SCOPES)}, or "
        f"{FUNCTIONS_INVOKE}:NAME / {WORKFLOWS_RUN}:NAME (NAME may use * and ?)"
    )


class Surface(enum.StrEnum):
    """The parts of the gateway that answer only to a credential unless the operator lets
    anonymous callers in (``[auth] allow_anonymous``). Routes are not among them: a route
    without an authorizer is public, as on API Gateway."""

    LAMBDA_API = "lambda_api"
    WORKFLOW_API = "workflow_api"
    OPERATIONS = "operations"

    @property
    def anonymous_scopes(self) -> frozenset[str]:
        """What an anonymous caller may do where this surface admits one (never ``admin``)."""
        return _ANONYMOUS_SCOPES[self]


_ANONYMOUS_SCOPES = {
    Surface.LAMBDA_API: frozenset({FUNCTIONS_INVOKE}),
    Surface.WORKFLOW_API: frozenset({WORKFLOWS_RUN, RUNS_READ, RUNS_CANCEL}),
    Surface.OPERATIONS: frozenset({OPS_READ}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated (or admitted anonymous) caller.

    Attributes:
        name: What run records, logs and ``runs:read:own`` go by: a token's name,
            ``jwt:<sub>``, ``aws:<credential name>``, ``anonymous``.
        kind: How it proved itself: ``token``, ``admin_token``, ``local_admin``, ``jwt``,
            ``aws``, ``anonymous``.
        scopes: What it may do.
    """

    name: str
    kind: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.kind == ANONYMOUS_NAME

    def allows(self, scope: str, target: str | None = None) -> bool:
        """Whether this principal may do ``scope`` (on ``target``, a function or workflow
        name, for the scopes that can be narrowed to names)."""
        scopes = self.scopes
        if ADMIN in scopes or scope in scopes:
            return True
        if target is None or scope not in _NARROWABLE:
            return False
        prefix = scope + ":"
        return any(
            s.startswith(prefix) and fnmatch.fnmatchcase(target, s[len(prefix) :]) for s in scopes
        )

    def allows_any(self, scope: str) -> bool:
        """Whether this principal may do ``scope`` on at least one name (a listing)."""
        prefix = scope + ":"
        return self.allows(scope) or any(s.startswith(prefix) for s in self.scopes)


class CredentialKind(enum.StrEnum):
    TOKEN = "token"  # noqa: S105 - a kind: Authorization: Bearer lg_...
    API_KEY = "api_key"  # x-api-key: lgk_... on routes that require one


@dataclass(frozen=True, slots=True)
class Credential:
    """A token or API key as the store keeps it: never the secret itself, only its hash.

    Attributes:
        credential_id: Random and public: an API key's ``apiKeyId`` in events.
        kind: A token or an API key.
        name: Unique per kind; what lists, logs and run records show.
        secret_hash: SHA-256 (hex) of the secret the caller presents.
        scopes: A token's scopes (an API key has none: it only meters routes).
        plan: An API key's usage plan.
        created_at, last_used_at: Unix seconds (last use recorded about once a minute).
    """

    credential_id: str
    kind: CredentialKind
    name: str
    secret_hash: str
    created_at: float
    scopes: tuple[str, ...] = ()
    plan: str | None = None
    last_used_at: float | None = None

    def __post_init__(self) -> None:
        if not CREDENTIAL_NAME.fullmatch(self.name):
            raise ValueError(
                f"name {self.name!r} is invalid: expected 1-128 letters, digits or _ . @ -, "
                "starting with a letter or digit"
            )
        for scope in self.scopes:
            check_scope(scope)

    def __repr__(self) -> str:  # the hash is not a secret, but it has no business in logs
        return f"Credential({self.kind.value} {self.name!r}, scopes={list(self.scopes)})"

    def principal(self) -> Principal:
        return Principal(self.name, self.kind.value, frozenset(self.scopes))
