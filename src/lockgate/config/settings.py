"""Validated settings and the ``lockgate.toml`` loader.

Settings come from four places, strongest first: explicit overrides (CLI flags), ``LOCKGATE_*``
environment variables, the TOML file's ``[gateway]`` table, then the defaults below. The file's
functions and routes become a :class:`GatewayConfig`.

Every problem becomes one :class:`ConfigError` that names the file, each offending key in
dotted form (``functions.echo.scaling.max_capacity``, ``routes[2].function``), what was expected
and what was found, and lists all problems at once so a user fixes the file in one pass (the
wording lives in :mod:`lockgate.config.problems`).
Environment values of functions may be secrets: messages name their keys, never their values.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError, create_model
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from lockgate.config.problems import (
    Expect,
    Loc,
    Problem,
    Problems,
    check,
    fail,
    read_toml,
    settings_error,
)
from lockgate.config.route_auth import check_route_auth
from lockgate.config.security import CorsTable, build_security, cors_config
from lockgate.config.tables import STRICT, build_function, build_jobs, code_dir
from lockgate.config.tracing import build_tracing
from lockgate.models.function import FUNCTION_NAME_PATTERN, FunctionEntity
from lockgate.models.gateway_config import GatewayConfig, WorkflowDeclaration
from lockgate.models.module import ModuleDeclaration
from lockgate.models.resource import RESOURCE_NAME, ResourceReference
from lockgate.models.routing import HTTP_METHODS, Route
from lockgate.models.security.egress import EgressPolicy

__all__ = [
    "RESERVED_PATHS",
    "RESERVED_PREFIXES",
    "Settings",
    "is_reserved_path",
    "listen_address",
    "load_config",
    "load_settings",
]

_ENV_PREFIX = "LOCKGATE_"

# Paths the gateway serves itself (the Invoke API, the workflow API, operations endpoints,
# the docs): a request for one never reaches a declared route, so declaring one is an error.
RESERVED_PREFIXES = (
    "/2015-03-31/",
    "/_lockgate/",
    "/workflows/",
    "/runs/",
    "/secrets/",
    "/modules/",
    "/events/",
    "/invocations/",
    "/jobs/",
    "/tokens/",
    "/api-keys/",
)
RESERVED_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/health",
        "/metrics",
        "/workflows",
        "/runs",
        "/secrets",
        "/modules",
        "/events",
        "/invocations",
        "/jobs",
        "/tokens",
        "/api-keys",
    }
)


def is_reserved_path(path: str) -> bool:
    """True when the gateway itself serves ``path`` (a request path or a route's path)."""
    return path in RESERVED_PATHS or path.startswith(RESERVED_PREFIXES)


def _host_patterns(value: list[str]) -> list[str]:
    EgressPolicy.from_entries(value)  # raises ValueError quoting the bad entry
    return value


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9901``) as a host and a port.

    Raises:
        ValueError: It is not one, or the port is out of range.
    """
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return host, int(port)


def _log_level(value: str) -> str:
    name = value.upper()
    if name not in logging.getLevelNamesMapping():
        raise ValueError("")  # empty: the field's Expect already says it all
    return name


class Settings(BaseSettings):
    """How the gateway runs (not what it serves: that is the :class:`GatewayConfig`).

    Attributes:
        host: The address the HTTP server listens on (``0.0.0.0`` for every one; off
            loopback, every surface served needs a credential).
        port: The port the HTTP server listens on.
        config: The ``lockgate.toml`` the functions and routes came from, if any.
        max_body_bytes: Largest request body accepted; larger ones get 413.
        start_budget: Worker starts in flight at once, across all functions.
        log_format: ``text``, or ``json``: one object per line, with the request id.
        log_level: The lowest level logged (a logging level name); at ``DEBUG`` resource
            resolution and each workflow run are logged too.
        janitor_interval: Seconds between Janitor sweeps for idle workers (those idle past
            their function's ``idle_ttl``).
        log_capture_bytes: Captured handler output (stdout and stderr) kept per invocation,
            its last bytes; ``LogType=Tail`` returns the last 4 KB of it.
        shutdown_grace: Seconds in-flight calls (and workflow runs) get to finish on SIGTERM.
        run_store: Where workflow runs are kept: ``sqlite:///relative/path`` or
            ``sqlite:////absolute/path`` (SQLAlchemy's spelling; the default is
            ``.lockgate/runs.sqlite3`` beside the config file), ``postgresql://...`` or
            ``memory://`` (nothing survives a restart).
        sqlite_synchronous: ``FULL`` (a committed step survives power loss) or ``NORMAL``
            (survives a process crash only; several times faster).
        node_id: This gateway's name in run leases; gateways sharing a PostgreSQL run
            store need distinct ids. A restarted node takes its own runs back at once.
        run_lease: Seconds a node's claim on its runs lasts without a heartbeat; after it,
            another node resumes them.
        run_retention: Seconds a finished run (its result, steps and idempotency key) is
            kept (7 days by default, so the store cannot grow without bound).
        max_step_output_bytes: The largest step result (as JSON) a run keeps; a step that
            returns more fails, naming the limit.
        secrets: Where resources' credentials come from. ``database`` (encrypted on the
            run store's database; start-up fails without a master key), ``env`` (read-only,
            ``LOCKGATE_SECRET_<NAME>``), ``off``, or ``auto``: ``database`` when a master
            key is given or the database already holds secrets, otherwise none.
        master_key_file: A mode 0600 file holding the master key (``lockgate secrets
            init-key``); otherwise ``LOCKGATE_MASTER_KEY`` (base64).
        secret_cache_ttl: Seconds a decrypted secret is served from memory (0: never).
        secrets_http_read: Whether ``GET /secrets/{name}`` returns a value (off: secrets
            can be written and listed over HTTP, never read back).
        admin_token: A bearer token with the ``admin`` scope (every scope), for operators and
            scripts; tokens made with ``lockgate tokens create`` can be narrower.
        admin_token_file: Where ``lockgate serve`` keeps the local admin token (mode 0600),
            which the CLI on the same machine presents by itself; by default
            ``admin.token`` beside the run store's SQLite file (or in ``.lockgate/`` beside
            the config for other run stores).
        resource_idle_ttl: Seconds an inline resource's pool may sit unused before it is
            closed (shared resources stay open).
        resource_health_timeout: Seconds one resource's health check may take.
        max_inline_resources: Distinct inline references pooled at once; past it the least
            recently used idle one is closed, and when all are in use a new one is refused.
        allow_inline_resources: Whether runs may carry inline resource references (the
            caller chooses where they connect). Off by default: runs name shared resources
            (``"@name"``) only. On, inline references obey ``inline_allowed_hosts``.
        inline_allowed_hosts: Where inline resources may connect, checked on the address a
            host resolves to when connecting: ``"public"`` (any address outside the refused
            ranges; the default), host names (``"api.example.com"``) and wildcards
            (``"*.example.com"``) at their public addresses, and IP addresses or CIDR blocks
            (``"10.0.0.0/8"``). Loopback, private, CGNAT, link-local (169.254.169.254),
            unique-local, multicast, reserved and the gateway's own addresses are refused
            unless listed *by address*; a name never unlocks them.
        durable_events: Events between modules are recorded on the run store's database, one
            delivery per subscriber, and redelivered after a failure or a crash until they
            succeed or run out of attempts (then dead); off, they live in memory only.
        event_delivery_timeout: Seconds one subscriber may take for one event.
        event_max_attempts: Deliveries of one event to one subscriber before it is dead.
        event_retention: Seconds a completed delivery (and its event, once all its
            deliveries are complete) is kept; dead ones are kept until handled.
        inline_credentials: Secrets an inline reference may name as its ``credentials_ref``
            (``"*"``: any). The caller of an inline reference chooses where it connects, so
            listing a secret lets callers send it to a host of their choosing; by default
            credentials go with shared resources only.
        async_max_retries: Retries of an ``Event`` invocation whose function failed (0-2,
            as AWS's ``MaximumRetryAttempts``); after the last it is dead, its error kept.
        async_retry_delay: Seconds before the first retry; each further one waits twice as
            long.
        async_max_event_age: Seconds an ``Event`` invocation may wait (throttled, or for
            its retries) before it is dead, as AWS's ``MaximumEventAgeInSeconds``.
        async_concurrency: ``Event`` invocations this gateway runs at once, across
            functions (each function also at most its ``max_capacity``).
        async_retention: Seconds a succeeded ``Event`` invocation is kept; dead ones are
            kept until re-driven.
        async_max_queued: ``Event`` invocations one function may have queued (across the
            nodes sharing the store); one more is refused with ``TooManyRequestsException``
            (429) until some have run, so a flood cannot fill the disk.
        admin_listen: ``HOST:PORT`` (``[::1]:9901`` for IPv6) of a second listener that
            serves the operations endpoints (``/health``, ``/metrics``, ``/modules``, secrets,
            jobs, Event invocations, tokens ...) apart, as Kong and Envoy keep their admin
            APIs; the main listener then serves routes, the Lambda API and the workflow API
            only (and both the probes).
        allowed_hosts: The ``Host`` names the gateway answers to (others get 400, which ends
            DNS rebinding): names, ``*.domain`` wildcards, addresses, or ``*`` for any. By
            default the listener's own: loopback names on a loopback listener; on
            ``0.0.0.0`` also the machine's names and addresses. List your DNS names when
            the gateway is reached by one.
        aws_region: The region of ``aws-lambda`` functions and ``aws-batch`` jobs (else
            boto3's own configuration decides).
        aws_endpoint_url: Sends every AWS call to this URL instead (LocalStack, moto).
        header_timeout: Seconds a client has to send a request's whole header section,
            counted from the connection's start (a connection that sends nothing is closed
            too) or from the first byte of a keep-alive connection's next request; then
            408 and the connection is closed.
        body_timeout: Seconds a request body may go without a byte arriving before the
            connection is closed (time the gateway is not reading does not count); the
            handler sees the client as gone.
        max_header_bytes: Largest request line plus headers; larger ones get 431 and are
            never buffered past this size.
        max_headers: Most header fields in one request; more get 431.
        max_connections: Connections the gateway holds open at once, from all clients;
            more are closed at once (503). Lowered at start to what the process's
            open-file limit leaves room for (``lockgate serve`` first raises its soft limit
            to the hard one).
        max_connections_per_client: Connections one client address holds open at once;
            more are closed at once (503), so one client cannot take every slot.
    """

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX, frozen=True, extra="forbid", allow_inf_nan=False
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    config: Path | None = None
    max_body_bytes: Annotated[int, Field(gt=0)] = 6 * 1024 * 1024
    start_budget: Annotated[int, Field(ge=1)] = 4
    log_format: Literal["text", "json"] = "text"
    log_level: Annotated[
        str,
        AfterValidator(_log_level),
        Expect("a logging level name (CRITICAL, ERROR, WARNING, INFO or DEBUG)"),
    ] = "INFO"
    janitor_interval: Annotated[float, Field(gt=0)] = 1.0
    # Below 4 KiB a traceback would be cut before it says anything useful.
    log_capture_bytes: Annotated[int, Field(ge=4096)] = 64 * 1024
    shutdown_grace: Annotated[float, Field(ge=0)] = 10.0
    run_store: Annotated[
        str | None,
        Field(pattern=r"^(sqlite:///.+|postgres(ql)?://.*|memory://)$"),
        Expect("sqlite:///PATH, postgresql://USER@HOST:PORT/DB or memory://"),
    ] = None
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    node_id: Annotated[str, Field(min_length=1, max_length=200)] = socket.gethostname()
    run_lease: Annotated[float, Field(gt=0)] = 30.0
    run_retention: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0
    max_step_output_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024
    secrets: Literal["auto", "database", "env", "off"] = "auto"
    master_key_file: Path | None = None
    secret_cache_ttl: Annotated[float, Field(ge=0)] = 300.0
    secrets_http_read: bool = False
    admin_token: Annotated[
        str | None, Field(min_length=16, repr=False), Expect("a string of at least 16 characters")
    ] = None
    admin_token_file: Path | None = None
    resource_idle_ttl: Annotated[float, Field(gt=0)] = 300.0
    resource_health_timeout: Annotated[float, Field(gt=0)] = 5.0
    max_inline_resources: Annotated[int, Field(ge=1)] = 100
    allow_inline_resources: bool = False
    inline_allowed_hosts: Annotated[
        list[str],
        AfterValidator(_host_patterns),
        Expect(
            "a list of 'public', host names, '*.domain' wildcards, IP addresses or CIDR "
            "blocks (no ports, no URLs)"
        ),
    ] = Field(default_factory=lambda: ["public"])
    inline_credentials: list[str] = Field(default_factory=list)
    durable_events: bool = True
    event_delivery_timeout: Annotated[float, Field(gt=0)] = 30.0
    event_max_attempts: Annotated[int, Field(ge=1)] = 5
    event_retention: Annotated[float, Field(gt=0)] = 7 * 24 * 3600.0
    async_max_retries: Annotated[int, Field(ge=0, le=2)] = 2
    async_retry_delay: Annotated[float, Field(gt=0)] = 1.0
    async_max_event_age: Annotated[float, Field(ge=60, le=21600)] = 21600.0
    async_concurrency: Annotated[int, Field(ge=1)] = 16
    async_retention: Annotated[float, Field(gt=0)] = 24 * 3600.0
    async_max_queued: Annotated[int, Field(ge=1)] = 100_000
    admin_listen: Annotated[
        str | None,
        Field(pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}$"),
        Expect("HOST:PORT, e.g. '127.0.0.1:9901' or '[::1]:9901'"),
    ] = None
    allowed_hosts: list[str] | None = None
    aws_region: Annotated[str | None, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")] = None
    aws_endpoint_url: Annotated[str | None, Field(pattern=r"^https?://\S+$")] = None
    header_timeout: Annotated[float, Field(gt=0, le=3600)] = 10.0
    body_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # Below 1 KiB real clients' cookies and tokens no longer fit.
    max_header_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 16 * 1024
    max_headers: Annotated[int, Field(ge=8, le=10_000)] = 100
    max_connections: Annotated[int, Field(ge=1)] = 4096
    max_connections_per_client: Annotated[int, Field(ge=1)] = 256


_STRICT = STRICT
_FILE_SETTINGS = (
    "max_body_bytes",
    "start_budget",
    "log_format",
    "log_level",
    "janitor_interval",
    "log_capture_bytes",
    "shutdown_grace",
    "run_store",
    "sqlite_synchronous",
    "node_id",
    "run_lease",
    "run_retention",
    "max_step_output_bytes",
    "secrets",
    "secret_cache_ttl",
    "secrets_http_read",
    "resource_idle_ttl",
    "resource_health_timeout",
    "max_inline_resources",
    "allow_inline_resources",
    "inline_allowed_hosts",
    "inline_credentials",
    "durable_events",
    "event_delivery_timeout",
    "event_max_attempts",
    "event_retention",
    "async_max_retries",
    "async_retry_delay",
    "async_max_event_age",
    "async_concurrency",
    "async_retention",
    "async_max_queued",
    "admin_listen",
    "allowed_hosts",
    "aws_region",
    "aws_endpoint_url",
    "header_timeout",
    "body_timeout",
    "max_header_bytes",
    "max_headers",
    "max_connections",
    "max_connections_per_client",
)
# Built from Settings' own fields so the file and the environment share one set of limits.
_GatewayTable = create_model(  # type: ignore[call-overload]
    "_GatewayTable",
    __config__=_STRICT,
    **{
        name: (Settings.model_fields[name].annotation, Settings.model_fields[name])
        for name in _FILE_SETTINGS
    },
)
_HANDLER = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"


def _http_method(value: str) -> str:
    method = value.upper()
    if method not in HTTP_METHODS:
        raise ValueError("")  # empty: the field's Expect already says it all
    return method


def _route_path(value: str) -> str:
    Route("ANY", value, "_")  # the domain's own path rules, raising ValueError with the reason
    return value


class _RouteTable(BaseModel):
    model_config = _STRICT

    method: Annotated[
        str, AfterValidator(_http_method), Expect("one of " + ", ".join(sorted(HTTP_METHODS)))
    ]
    path: Annotated[
        str, AfterValidator(_route_path), Expect("a path like '/hello/{name}' or '/files/{path+}'")
    ]
    function: str
    payload_format: Literal["1.0", "2.0"] = "2.0"
    cors: CorsTable | None = None
    authorizer: str | None = Field(default=None, min_length=1)
    scopes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    api_key_required: bool = False


class _WorkflowTable(BaseModel):
    model_config = _STRICT

    builder: Annotated[
        str, Field(pattern=_HANDLER), Expect("'module:function' (e.g. 'pipelines:build')")
    ]
    description: str = ""
    required_resources: list[str] = Field(default_factory=list)
    code_dir: str | None = None


_DOTTED = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"


class _ModuleTable(BaseModel):
    model_config = _STRICT

    name: str | None = None
    services_module: Annotated[
        str, Field(pattern=_DOTTED), Expect("a dotted module path (e.g. 'app.users.services')")
    ]
    dependencies: list[str] = Field(default_factory=list)
    provides: list[str] = Field(default_factory=list)
    code_dir: str | None = None
    package: Annotated[
        str | None, Field(pattern=_DOTTED), Expect("a dotted package path (e.g. 'app.users')")
    ] = None


class _ResourceTable(BaseModel):
    model_config = _STRICT

    type: str = Field(min_length=1)
    config: dict[str, Any] = Field(default_factory=dict)
    credentials_ref: str | None = None


class _FileTable(BaseModel):
    """Only the shape of the top level; each function and route is validated on its own."""

    model_config = _STRICT

    gateway: dict[str, Any] = Field(default_factory=dict)
    functions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: list[dict[str, Any]] = Field(default_factory=list)
    workflows: dict[str, dict[str, Any]] = Field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    auth: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, Any] = Field(default_factory=dict)
    cors: dict[str, Any] = Field(default_factory=dict)
    authorizers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    usage_plans: dict[str, dict[str, Any]] = Field(default_factory=dict)
    aws_credentials: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tracing: dict[str, Any] = Field(default_factory=dict)


# Settings the file may not set: said instead of "unknown key".
_HINTS = {
    f"gateway.{name}": f"is not read from the file; use --{name} or {_ENV_PREFIX}{name.upper()}"
    for name in ("host", "port", "config", "master_key_file", "admin_token_file")
}


def _build_workflows(
    raw: Mapping[str, Any], base: Path, problems: Problems
) -> dict[str, WorkflowDeclaration]:
    workflows: dict[str, WorkflowDeclaration] = {}
    for name, item in raw.items():
        prefix: Loc = ("workflows", name)
        if not FUNCTION_NAME_PATTERN.match(name):
            problems.add(
                prefix, f"expected a name of 1-64 letters, digits, '-' or '_', got {name!r}"
            )
            continue
        table = check(_WorkflowTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        workflows[name] = WorkflowDeclaration(
            name=name,
            builder=table.builder,
            code_dir=code_dir(base, table.code_dir, prefix, problems),
            description=table.description,
            required_resources=tuple(table.required_resources),
        )
    return workflows


def _build_resources(raw: Mapping[str, Any], problems: Problems) -> dict[str, ResourceReference]:
    resources: dict[str, ResourceReference] = {}
    for name, item in raw.items():
        prefix: Loc = ("resources", name)
        if not RESOURCE_NAME.fullmatch(name):
            problems.add(
                prefix,
                f"expected a letter or _ then up to 127 letters, digits, _ . -, got {name!r}",
            )
            continue
        table = check(_ResourceTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        try:
            resources[name] = ResourceReference(table.type, table.config, table.credentials_ref)
        except ValueError as exc:
            problems.add(prefix, str(exc))
    return resources


def _build_modules(
    raw: Mapping[str, Any], base: Path, problems: Problems
) -> dict[str, ModuleDeclaration]:
    modules: dict[str, ModuleDeclaration] = {}
    for key, item in raw.items():
        prefix: Loc = ("modules", key)
        table = check(_ModuleTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:
            continue
        try:
            modules[key] = ModuleDeclaration(
                key=key,
                name=table.name or key,
                services_module=table.services_module,
                dependencies=tuple(table.dependencies),
                provides=tuple(table.provides),
                code_dir=code_dir(base, table.code_dir, prefix, problems),
                package=table.package,
            )
        except ValueError as exc:
            problems.add(prefix, str(exc))
    return modules


# Routes that differ only in parameter names match the same requests.
_PARAM_NAME = re.compile(r"\{[^/}]*?(\+?)\}")


def _build_routes(
    raw: list[Any], declared: set[str], problems: Problems
) -> list[tuple[int, Route]]:
    """The valid routes, each with its index in ``[[routes]]`` (for later checks' keys)."""
    routes: list[tuple[int, Route]] = []
    seen: dict[tuple[str, str], tuple[int, Route]] = {}
    for index, item in enumerate(raw):
        prefix: Loc = ("routes", index)
        table = check(_RouteTable, item, prefix, problems) if isinstance(item, dict) else None
        if table is None:  # a non-table item was already reported by _FileTable
            continue
        if table.function not in declared:
            problems.add(
                (*prefix, "function"),
                f"expected a declared function ({', '.join(sorted(declared)) or 'none declared'}), "
                f"got {table.function!r}",
            )
        try:
            route = Route(
                table.method,
                table.path,
                table.function,
                table.payload_format,
                authorizer=table.authorizer,
                scopes=tuple(dict.fromkeys(table.scopes)),
                api_key_required=table.api_key_required,
                cors=cors_config(table.cors, (*prefix, "cors"), problems),
            )
        except ValueError as exc:
            problems.add((*prefix, "path"), f"invalid path: {exc}")
            continue
        if is_reserved_path(route.path):
            problems.add(
                (*prefix, "path"),
                f"expected a path the gateway does not serve itself, got {route.path!r} "
                f"(reserved: {', '.join(sorted(RESERVED_PATHS))} and everything under "
                f"{', '.join(RESERVED_PREFIXES)})",
            )
            continue
        shape = (route.method, _PARAM_NAME.sub(r"{\1}", route.path))
        first_index, first = seen.setdefault(shape, (index, route))
        if first_index != index:
            problems.add(
                prefix,
                f"{route.route_key!r} duplicates routes[{first_index}] ({first.route_key!r})",
            )
            continue
        routes.append((index, route))
    return routes


def load_config(path: Path) -> tuple[GatewayConfig, dict[str, Any]]:
    """Read a ``lockgate.toml``.

    Args:
        path: The file; handlers and relative ``code_dir`` values resolve from its folder.

    Returns:
        The declared functions and routes, and the ``[gateway]`` table's values (only the
        keys the file sets, already validated and normalised).

    Raises:
        ConfigError: The file is missing, unreadable or not TOML, or any value is invalid;
            every problem is listed, ``fields["key"]`` is the first and ``fields["keys"]`` all.
    """
    data = read_toml(path)
    problems = Problems()
    check(_FileTable, data, (), problems)
    gateway: dict[str, Any] = {}
    if isinstance(raw_gateway := data.get("gateway", {}), dict):
        table = check(_GatewayTable, raw_gateway, ("gateway",), problems, hints=_HINTS)
        gateway = table.model_dump(exclude_unset=True) if table is not None else {}
    raw_functions = data.get("functions", {})
    raw_functions = raw_functions if isinstance(raw_functions, dict) else {}
    base = path.parent.resolve()
    functions: dict[str, FunctionEntity] = {}
    for name, raw in raw_functions.items():
        if isinstance(raw, dict) and (entity := build_function(name, raw, base, problems)):
            functions[name] = entity
    raw_routes = data.get("routes", [])
    # Declared but invalid functions count as declared: their own errors are enough.
    routes = _build_routes(
        raw_routes if isinstance(raw_routes, list) else [], set(raw_functions), problems
    )
    raw_workflows = data.get("workflows", {})
    workflows = _build_workflows(
        raw_workflows if isinstance(raw_workflows, dict) else {}, base, problems
    )
    raw_resources = data.get("resources", {})
    resources = _build_resources(raw_resources if isinstance(raw_resources, dict) else {}, problems)
    raw_modules = data.get("modules", {})
    modules = _build_modules(raw_modules if isinstance(raw_modules, dict) else {}, base, problems)
    raw_jobs = data.get("jobs", {})
    jobs = build_jobs(raw_jobs if isinstance(raw_jobs, dict) else {}, base, problems)
    security = build_security(data, problems)
    tracing = build_tracing(data, problems)
    check_route_auth(
        routes,
        authorizers=security.authorizers,
        plans=security.usage_plans,
        functions=raw_functions,
        auth_authorizer=security.auth.authorizer,
        problems=problems,
    )
    if problems:
        fail(path, problems)
    try:
        config = GatewayConfig(
            functions=functions,
            routes=tuple(route for _, route in routes),
            workflows=workflows,
            resources=resources,
            modules=modules,
            jobs=jobs,
            security=security,
            tracing=tracing,
        )
        return config, gateway
    except ValueError as exc:
        fail(path, [Problem("routes", str(exc))])


def load_settings(
    config_path: Path | None = None, **overrides: Any
) -> tuple[Settings, GatewayConfig]:
    """Settings and the gateway's functions and routes.

    Args:
        config_path: The ``lockgate.toml``; when None, ``config`` from the overrides or
            ``LOCKGATE_CONFIG``; when there is none either, no functions are declared.
        overrides: Settings fields given explicitly (CLI flags); None means "not given".

    Returns:
        The settings (overrides > environment > ``[gateway]`` table > defaults) and the config.

    Raises:
        ConfigError: The file or any setting is invalid; ``fields["key"]`` names the field
            and ``fields["env"]`` the environment variable when the value came from one.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    from_env = EnvSettingsSource(Settings)()
    chosen = config_path if config_path is not None else given.get("config")
    if chosen is None and from_env.get("config"):
        chosen = from_env["config"]
    path = Path(chosen) if chosen is not None else None
    gateway, from_file = load_config(path) if path is not None else (GatewayConfig(), {})
    try:
        # Passed as init values, which pydantic-settings ranks above the environment.
        settings = Settings(**{**from_file, **from_env, **given, "config": path})
    except ValidationError as exc:
        raise settings_error(
            exc, Settings, given=given, from_env=from_env, path=path, env_prefix=_ENV_PREFIX
        ) from None
    return settings, gateway
