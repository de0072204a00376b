"""The composition root: the only module that knows every concrete class.

``build(settings, config)`` wires an ``Application``; nothing here does I/O at import time,
and ``Application.start()``/``stop()`` own every background task and worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from lockgate.errors import ConfigError, ResourceConfigError
from lockgate.gateways.cache_resolver import CacheResolver
from lockgate.gateways.database_resolver import DatabaseResolver
from lockgate.gateways.env_secrets import EnvironmentSecrets
from lockgate.gateways.httpx_http_client_resolver import HttpxHttpClientResolver
from lockgate.gateways.interfaces import (
    IResourceResolver,
    IRunStore,
    ISecretStore,
    IWorkerLauncher,
)
from lockgate.gateways.memory_run_store import InMemoryRunStore
from lockgate.gateways.nats_queue_resolver import NatsQueueResolver
from lockgate.gateways.process_worker import ProcessWorkerLauncher
from lockgate.gateways.prometheus_metrics import PrometheusMetrics
from lockgate.gateways.sqlite_database_resolver import SQLiteDatabaseResolver
from lockgate.gateways.sqlite_run_store import SQLiteRunStore
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.resource import ResourceReference
from lockgate.models.routing import RouteTable
from lockgate.models.run import RunPage, RunStatus, WorkflowRequest, WorkflowResponse
from lockgate.models.workflow import Workflow
from lockgate.settings import Settings, load_config
from lockgate.use_cases.event_builder import EventBuilder
from lockgate.use_cases.function_registry import FunctionRegistry
from lockgate.use_cases.function_step import FunctionStepCaller
from lockgate.use_cases.health import gateway_health
from lockgate.use_cases.lambda_invoker import LambdaInvoker
from lockgate.use_cases.maintenance import Janitor, Scheduler
from lockgate.use_cases.master_key import MASTER_KEY_ENV, load_master_key
from lockgate.use_cases.pool_backend import PoolInvocationBackend
from lockgate.use_cases.pool_manager import PoolManager
from lockgate.use_cases.request_processor import GatewayRequestProcessor
from lockgate.use_cases.resource_registry import ResourceRegistry
from lockgate.use_cases.secrets_setup import OpenSecrets, SecretBackend, open_secrets
from lockgate.use_cases.workflow_executor import WorkflowExecutor
from lockgate.use_cases.workflow_loader import load_workflow
from lockgate.use_cases.workflow_service import WorkflowService

__all__ = ["Application", "build", "check_run_store", "check_secrets", "secret_store"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Application:
    """Everything a running gateway is made of."""

    settings: Settings
    registry: FunctionRegistry
    pool_manager: PoolManager
    invoker: LambdaInvoker
    processor: GatewayRequestProcessor
    janitor: Janitor
    scheduler: Scheduler
    metrics: PrometheusMetrics
    workflows: WorkflowService
    resources: ResourceRegistry
    shared_resources: dict[str, ResourceReference] = field(default_factory=dict)
    started: bool = False
    given_secrets: SecretBackend | None = None
    _secrets: OpenSecrets | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def secret_manager(self) -> SecretBackend | None:
        """The secrets in use (``SecretManager``, or the environment backend); None when
        the gateway runs without secrets."""
        return self._secrets.backend if self._secrets is not None else None

    @property
    def routes(self) -> RouteTable:
        """The route table in force (the processor's: one copy, replaced whole on reload)."""
        return self.processor.routes

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the secrets (failing closed without a master key when they are needed),
        open the run store and resume unfinished runs, then start the Scheduler (which
        warms ``min_warm`` workers), the Janitor and the idle-resource sweeps.

        Raises:
            MasterKeyError: Secrets are configured but no (or the wrong) master key is.
            RunStoreError, SecretStoreError: A store cannot be opened.
        """
        if self.given_secrets is not None:
            self._secrets = OpenSecrets(self.given_secrets, None, "given")
        else:
            self._secrets = await _open_secrets(self.settings, self.shared_resources)
        self.resources.open(self._secrets.backend)
        try:
            await self.workflows.start()
        except BaseException:
            await self._close_resources()
            raise
        try:
            self.scheduler.tick()
            self._watch_sighup(install=True)
            self._tasks = [
                asyncio.create_task(self.scheduler.run(), name="lockgate-scheduler"),
                asyncio.create_task(self.janitor.run(), name="lockgate-janitor"),
                asyncio.create_task(self.resources.run_sweeps(), name="lockgate-resource-sweeps"),
            ]
        except BaseException:  # nothing half-started may outlive a failed start
            await self.stop()
            raise
        self.started = True

    async def stop(self) -> None:
        """Let in-flight calls finish (``shutdown_grace``), then end every worker process,
        then close the resources and the secrets (whatever failed before them)."""
        self._watch_sighup(install=False)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            # Runs first: their function steps still need the pools.
            await self.workflows.stop(grace=self.settings.shutdown_grace)
            await self.pool_manager.close(grace=self.settings.shutdown_grace)
        finally:
            await self._close_resources()
            self.started = False

    async def _close_resources(self) -> None:
        try:
            await self.resources.close()
        finally:
            if self._secrets is not None:
                secrets, self._secrets = self._secrets, None
                await secrets.close()

    # -- workflows (the seed's gateway API) ----------------------------------------------------

    def register_workflow(
        self,
        workflow_id: str,
        workflow: Workflow,
        required_resources: Iterable[str] = (),
        description: str = "",
    ) -> None:
        """Make ``workflow`` runnable as ``workflow_id`` (see ``WorkflowService``)."""
        self.workflows.register_workflow(workflow_id, workflow, required_resources, description)

    async def execute_workflow(
        self, workflow_id: str, request: WorkflowRequest | None = None, *, wait: bool = True
    ) -> WorkflowResponse:
        """Run a workflow; a failed run is a response whose status is ``failed``."""
        return await self.workflows.execute_workflow(workflow_id, request, wait=wait)

    async def get_run(self, run_id: str) -> WorkflowResponse:
        return await self.workflows.get_run(run_id)

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        return await self.workflows.list_runs(
            workflow_id=workflow_id, status=status, limit=limit, cursor=cursor
        )

    async def cancel_run(self, run_id: str) -> WorkflowResponse:
        return await self.workflows.cancel_run(run_id)

    def register_function(self, function: FunctionEntity) -> None:
        """Add or change a function; a changed one's old pool drains and is replaced."""
        self.registry.register(function)
        if self.started:
            self.pool_manager.pool_for(function).ensure_min_warm()

    def apply(self, config: GatewayConfig) -> None:
        """Serve ``config`` from now on: changed functions get new pools (the old ones drain),
        removed ones drain and go, the route table is replaced whole, and new workflows are
        registered (a registered workflow keeps its definition: its runs depend on it), as
        are new shared resources (a registered one keeps its pool: runs hold it).

        Raises:
            ConfigError: A new workflow's builder fails or a new shared resource is invalid;
                nothing has changed then.
        """
        registered = {w.workflow_id for w in self.workflows.workflows()}
        new_workflows = [
            (declaration, load_workflow(declaration))
            for declaration in config.workflows.values()
            if declaration.name not in registered
        ]
        new_resources = {
            name: reference
            for name, reference in config.resources.items()
            if name not in self.shared_resources
        }
        try:
            self.resources.check_shared(new_resources)
        except ResourceConfigError as exc:
            raise ConfigError(exc.message, **exc.fields) from None
        needing = sorted(n for n, r in new_resources.items() if r.credentials_ref is not None)
        if needing and self.started and self.secret_manager is None:
            raise ConfigError(
                f"shared resource(s) {', '.join(needing)} name credentials, but this gateway "
                "runs without secrets; restart it with a master key",
                key=needing[0],
            )
        for function in self.registry.all():
            if function.name not in config.functions:
                self.registry.remove(function.name)
                self.pool_manager.remove(function.name)
        for function in config.functions.values():
            self.register_function(function)
        self.processor.routes = RouteTable(config.routes)
        for name, reference in new_resources.items():
            self.resources.register_reference(name, reference)
            self.shared_resources[name] = reference
        for declaration, workflow in new_workflows:
            self.register_workflow(
                declaration.name,
                workflow,
                declaration.required_resources,
                declaration.description,
            )

    def reload(self) -> None:
        """Re-read the config file (on SIGHUP); a bad file is logged and changes nothing."""
        if self.settings.config is None:
            logger.warning("reload asked for, but the gateway was started without a config file")
            return
        try:
            config, _ = load_config(self.settings.config)
            self.apply(config)
        except ConfigError as exc:
            logger.error("reload refused, still serving the previous configuration: %s", exc)
            return
        logger.info(
            "reloaded %s: %d functions, %d routes",
            self.settings.config,
            len(config.functions),
            len(config.routes),
        )

    def _watch_sighup(self, *, install: bool) -> None:
        # Only the main thread may own signal handlers; an embedding host may reload by hand.
        if (
            self.settings.config is None
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        loop = asyncio.get_running_loop()
        if install:
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        else:
            loop.remove_signal_handler(signal.SIGHUP)

    def ready(self) -> bool:
        return self.started and self.scheduler.ready()

    def health(self) -> dict[str, Any]:
        """Functions and workflows only, without I/O (``health_check`` adds resources)."""
        health = gateway_health(self.registry, self.pool_manager, self.invoker)
        health["workflows"] = {
            "registered": len(self.workflows.workflows()),
            "active_runs": self.workflows.active_runs,
        }
        return health

    async def health_check(self) -> dict[str, Any]:
        """The seed's ``gateway.health_check()``: ``status`` (``healthy``, or ``degraded``
        when a function or shared resource is not), ``functions``, ``workflows``,
        ``resources`` (each shared resource, probed: ``SELECT 1``, ``PING`` ...),
        ``inline_resources`` (live inline pools, counted by type, not probed) and
        ``secrets`` (the backend in use)."""
        health = self.health()
        resources = await self.resources.health()
        health["resources"] = resources
        health["inline_resources"] = self.resources.inline()
        health["secrets"] = {"backend": self._secrets.kind if self._secrets else "off"}
        if any(r["status"] != "healthy" for r in resources.values()):
            health["status"] = "degraded"
        return health


def build(
    settings: Settings,
    config: GatewayConfig | None = None,
    *,
    launcher: IWorkerLauncher | None = None,
    run_store: IRunStore | None = None,
    secret_manager: SecretBackend | None = None,
    resource_registry: ResourceRegistry | None = None,
) -> Application:
    """Wire a gateway.

    Args:
        settings: Gateway-wide settings.
        config: The functions, routes and workflows to serve.
        launcher: Starts workers; real processes unless a test passes a fake.
        run_store: Keeps workflow runs; the one ``settings.run_store`` names by default.
        secret_manager: Where credentials come from (a ``SecretManager`` the caller owns);
            by default the one ``settings.secrets`` chooses, opened by ``start``.
        resource_registry: A registry the caller made and registered factories or
            resolvers on (the seed's ``resource_registry=ResourceRegistry()``); a new one
            by default. The built-in types are added where the caller has not its own.

    Raises:
        ConfigError: A declared workflow's builder cannot be loaded.
        ResourceConfigError: A declared shared resource has an unknown type or bad config.
    """
    config = config or GatewayConfig()
    registry = FunctionRegistry(config.functions.values())
    metrics = PrometheusMetrics()
    pool_manager = PoolManager(
        launcher or ProcessWorkerLauncher(log_capture_bytes=settings.log_capture_bytes),
        start_budget=settings.start_budget,
        metrics=metrics,
    )
    invoker = LambdaInvoker(registry, PoolInvocationBackend(pool_manager), metrics)
    metrics.watch(
        pool_manager.stats,
        lambda: [(f.name, invoker.breaker_state(f.name)) for f in registry.all()],
    )
    routes = RouteTable(config.routes)
    store = run_store or _run_store(settings)
    resources = resource_registry or ResourceRegistry(
        idle_ttl=settings.resource_idle_ttl,
        health_timeout=settings.resource_health_timeout,
        max_inline=settings.max_inline_resources,
        allow_inline=settings.allow_inline_resources,
        inline_credentials=settings.inline_credentials,
    )
    for type_name, resolver in _builtin_resolvers(settings).items():
        if type_name not in resources.resolver_types():  # the caller's own resolvers win
            resources.register_resolver(type_name, resolver)
    for name, reference in config.resources.items():
        resources.register_reference(name, reference)
    workflows = WorkflowService(
        store,
        WorkflowExecutor(
            store,
            FunctionStepCaller(invoker),
            metrics=metrics,
            max_output_bytes=settings.max_step_output_bytes,
        ),
        resources,
        node_id=settings.node_id,
        lease_seconds=settings.run_lease,
        retention=settings.run_retention,
        function_exists=registry.__contains__,
    )
    application = Application(
        settings=settings,
        registry=registry,
        pool_manager=pool_manager,
        invoker=invoker,
        processor=GatewayRequestProcessor(
            invoker, EventBuilder(), routes, max_body_bytes=settings.max_body_bytes
        ),
        janitor=Janitor(pool_manager, interval=settings.janitor_interval),
        scheduler=Scheduler(pool_manager, registry.all),
        metrics=metrics,
        workflows=workflows,
        resources=resources,
        shared_resources=dict(config.resources),
        given_secrets=secret_manager,
    )
    for declaration in config.workflows.values():
        application.register_workflow(
            declaration.name,
            load_workflow(declaration),
            declaration.required_resources,
            declaration.description,
        )
    return application


def _builtin_resolvers(settings: Settings) -> dict[str, IResourceResolver]:
    """The resource types every gateway resolves. SQLite databases are confined to the
    config's folder: a request must not open the run store or other files by path."""
    base = settings.config.parent if settings.config is not None else Path.cwd()
    store = settings.run_store or ""
    sqlite_store = store != "memory://" and not store.startswith(("postgresql:", "postgres:"))
    forbidden = (_sqlite_path(settings),) if sqlite_store else ()
    return {
        "database": DatabaseResolver(
            sqlite=SQLiteDatabaseResolver(base_dir=base, forbidden=forbidden)
        ),
        "http_client": HttpxHttpClientResolver(),
        "cache": CacheResolver(),
        "message_queue": NatsQueueResolver(),
    }


async def _open_secrets(settings: Settings, shared: Mapping[str, ResourceReference]) -> OpenSecrets:
    memory = settings.run_store == "memory://"
    configured = settings.master_key_file is not None or bool(os.environ.get(MASTER_KEY_ENV))
    return await open_secrets(
        settings.secrets,
        load_key=(lambda: load_master_key(key_file=settings.master_key_file))
        if configured
        else None,
        make_store=None if memory else lambda: secret_store(settings),
        environment=EnvironmentSecrets,
        needed_by={
            name: ref.credentials_ref
            for name, ref in shared.items()
            if ref.credentials_ref is not None
        },
        cache_ttl=settings.secret_cache_ttl,
    )


async def check_secrets(settings: Settings, config: GatewayConfig) -> None:
    """Open and close the secrets as ``Application.start`` will, so that a server without
    the master key it needs fails to start with one clear line.

    Raises:
        MasterKeyError, ConfigError, SecretStoreError: As ``Application.start``.
    """
    secrets = await _open_secrets(settings, config.resources)
    await secrets.close()


async def check_run_store(settings: Settings) -> None:
    """Open and close the run store ``settings`` name (applying its migrations), so that a
    server fails to start with one clear message, not a traceback, when it cannot.

    Raises:
        RunStoreError: The store cannot be opened; the message says why (no password).
    """
    store = _run_store(settings)
    await store.open()
    await store.close()


def _run_store(settings: Settings) -> IRunStore:
    """The run store ``settings.run_store`` names (SQLite beside the config by default)."""
    url = settings.run_store
    if url == "memory://":
        return InMemoryRunStore()
    if url is not None and url.startswith(("postgresql://", "postgres://")):
        from lockgate.gateways.postgres_run_store import PostgresRunStore  # noqa: PLC0415

        return PostgresRunStore(url)
    return SQLiteRunStore(_sqlite_path(settings), synchronous=settings.sqlite_synchronous)


def _sqlite_path(settings: Settings) -> Path:
    """The SQLite file of a ``sqlite:///`` run store, or the default beside the config."""
    if settings.run_store is not None:
        return Path(settings.run_store.removeprefix("sqlite:///")).expanduser()
    base = settings.config.parent if settings.config is not None else Path.cwd()
    return base / ".lockgate" / "runs.sqlite3"


def secret_store(settings: Settings) -> ISecretStore:
    """The secret store on the run store's database: the same SQLite file (its own tables)
    or the same PostgreSQL DSN and schema.

    Raises:
        ConfigError: The run store is ``memory://``: secrets stored there would vanish
            with the process.
    """
    url = settings.run_store
    if url == "memory://":
        raise ConfigError(
            "the run store is memory://, so secrets would not persist: set run_store to a "
            "sqlite:/// or postgresql:// URL (LOCKGATE_RUN_STORE or [gateway] run_store)",
            key="run_store",
        )
    if url is not None and url.startswith(("postgresql://", "postgres://")):
        from lockgate.gateways.postgres_secret_store import PostgresSecretStore  # noqa: PLC0415

        return PostgresSecretStore(url)
    from lockgate.gateways.sqlite_secret_store import SQLiteSecretStore  # noqa: PLC0415

    return SQLiteSecretStore(_sqlite_path(settings))
