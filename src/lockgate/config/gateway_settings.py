"""The gateway's settings: one table, read alike from ``[gateway]`` and the environment.

Every field of :class:`Settings` is a ``LOCKGATE_<NAME>`` environment variable and a key of
the file's ``[gateway]`` table (but ``config``: a file cannot name itself), checked by the
same limits: :data:`GATEWAY_TABLE` is built from the fields themselves, so the two cannot
drift apart. The file's paths are relative to its folder.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field, create_model
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from lockgate.config.problems import Expect
from lockgate.config.tables import STRICT
from lockgate.models.security.egress import EgressPolicy

__all__ = [
    "ENV_PREFIX",
    "GATEWAY_TABLE",
    "NOT_IN_FILE",
    "PATH_SETTINGS",
    "Settings",
    "listen_address",
]

ENV_PREFIX = "LOCKGATE_"


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
        config: The ``lockgate.toml`` the functions and routes came from, if any: when not
            given, ``./lockgate.toml`` if there is one (every command finds it so).
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
        drain_seconds: Seconds the gateway keeps serving after SIGTERM, with ``/readyz`` at
            503 ``draining``, before it stops accepting connections: set it to how long a
            load balancer takes to notice (its probe interval times its failure threshold).
            A second SIGTERM or Ctrl-C skips the rest of it.
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
        access_log: One line per request in the log: method, path, status, the
            milliseconds the gateway added and the total, and the request id.
        function_logs: Whether what functions print (stdout and stderr, with Lambda's
            START/END/REPORT lines) goes to the gateway's log, tagged with the function and
            the request id; ``lockgate logs`` has it either way.
        function_log_rate: Lines of one function's output the log takes per second; past
            it, lines are left out of the log (not out of ``lockgate logs``) and a line
            says how many.
        function_log_lines: Lines of output kept per function for ``lockgate logs`` and
            ``GET /functions/{name}/logs`` (in memory, the latest).
        reload: For development: watch the config file, the functions' code folders and
            the workflows' modules, and replace what changed within a second (changed
            functions get new workers, calls in flight finish on the old ones; a changed
            workflow is registered as its next version for new runs). Off by default.
        check_handlers: Whether ``lockgate serve`` loads each local function's handler in
            a throwaway worker before it listens, and refuses to start when one does not
            load (listing them with the config's other problems); off, a broken handler
            fails its calls instead (``lockgate check --config`` checks them either way).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", allow_inf_nan=False
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
    drain_seconds: Annotated[float, Field(ge=0, le=3600)] = 0.0
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
    access_log: bool = True
    function_logs: bool = True
    function_log_rate: Annotated[int, Field(ge=1)] = 200
    function_log_lines: Annotated[int, Field(ge=10, le=1_000_000)] = 2000
    reload: bool = False
    check_handlers: bool = True


# The file cannot name itself; every other setting may be in it.
NOT_IN_FILE = frozenset({"config"})
PATH_SETTINGS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if Path in get_args(field.annotation) or field.annotation is Path
)


def _file_field(name: str) -> tuple[Any, FieldInfo]:
    """The ``[gateway]`` key for a setting: the setting's own type and limits, but paths are
    strings in TOML (strict tables take no str for a Path) and resolved from the file's folder."""
    field = Settings.model_fields[name]
    if name in PATH_SETTINGS:
        return (
            Annotated[
                str | None, Field(min_length=1), Expect("a path (relative to the file's folder)")
            ],
            FieldInfo(default=None),
        )
    return field.annotation, field


GATEWAY_TABLE: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "GatewayTable",
    __config__=STRICT,
    **{name: _file_field(name) for name in Settings.model_fields if name not in NOT_IN_FILE},
)
