"""The composition root: the only module that knows every concrete class.

``build(settings, config)`` wires an ``Application``; nothing here does I/O at import time,
and ``Application.start()``/``stop()`` own every background task and worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from lockgate.errors import ConfigError
from lockgate.gateways.interfaces import IRunStore, ISecretStore, IWorkerLauncher
from lockgate.gateways.memory_run_store import InMemoryRunStore
from lockgate.gateways.process_worker import ProcessWorkerLauncher
from lockgate.gateways.prometheus_metrics import PrometheusMetrics
from lockgate.gateways.sqlite_run_store import SQLiteRunStore
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
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
from lockgate.use_cases.pool_backend import PoolInvocationBackend
from lockgate.use_cases.pool_manager import PoolManager
from lockgate.use_cases.request_processor import GatewayRequestProcessor
from lockgate.use_cases.resource_provider import ResourceProvider
from lockgate.use_cases.workflow_executor import WorkflowExecutor
from lockgate.use_cases.workflow_loader import load_workflow
from lockgate.use_cases.workflow_service import WorkflowService

__all__ = ["Application", "build", "check_run_store", "secret_store"]

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
    resources: ResourceProvider
    started: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

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
        """Open the run store and resume unfinished runs, then start the Scheduler (which
        warms ``min_warm`` workers) and the Janitor."""
        await self.workflows.start()
        self.scheduler.tick()
        self._watch_sighup(install=True)
        self._tasks = [
            asyncio.create_task(self.scheduler.run(), name="lockgate-scheduler"),
            asyncio.create_task(self.janitor.run(), name="lockgate-janitor"),
        ]
        self.started = True

    async def stop(self) -> None:
        """Let in-flight calls finish (``shutdown_grace``), then end every worker process."""
        self._watch_sighup(install=False)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Runs first: their function steps still need the pools.
        await self.workflows.stop(grace=self.settings.shutdown_grace)
        await self.pool_manager.close(grace=self.settings.shutdown_grace)
        self.started = False

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
        registered (a registered workflow keeps its definition: its runs depend on it).

        Raises:
            ConfigError: A new workflow's builder fails; nothing has changed then.
        """
        registered = {w.workflow_id for w in self.workflows.workflows()}
        new_workflows = [
            (declaration, load_workflow(declaration))
            for declaration in config.workflows.values()
            if declaration.name not in registered
        ]
        for function in self.registry.all():
            if function.name not in config.functions:
                self.registry.remove(function.name)
                self.pool_manager.remove(function.name)
        for function in config.functions.values():
            self.register_function(function)
        self.processor.routes = RouteTable(config.routes)
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
        health = gateway_health(self.registry, self.pool_manager, self.invoker)
        health["workflows"] = {
            "registered": len(self.workflows.workflows()),
            "active_runs": self.workflows.active_runs,
        }
        return health


def build(
    settings: Settings,
    config: GatewayConfig | None = None,
    *,
    launcher: IWorkerLauncher | None = None,
    run_store: IRunStore | None = None,
) -> Application:
    """Wire a gateway.

    Args:
        settings: Gateway-wide settings.
        config: The functions, routes and workflows to serve.
        launcher: Starts workers; real processes unless a test passes a fake.
        run_store: Keeps workflow runs; the one ``settings.run_store`` names by default.

    Raises:
        ConfigError: A declared workflow's builder cannot be loaded.
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
    resources = ResourceProvider()
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
    )
    for declaration in config.workflows.values():
        application.register_workflow(
            declaration.name,
            load_workflow(declaration),
            declaration.required_resources,
            declaration.description,
        )
    return application


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
