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
from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import ConfigError
from lockgate.gateways.interfaces import IWorkerLauncher
from lockgate.gateways.process_worker import ProcessWorkerLauncher
from lockgate.gateways.prometheus_metrics import PrometheusMetrics
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.routing import RouteTable
from lockgate.settings import Settings, load_config
from lockgate.use_cases.event_builder import EventBuilder
from lockgate.use_cases.function_registry import FunctionRegistry
from lockgate.use_cases.health import gateway_health
from lockgate.use_cases.lambda_invoker import LambdaInvoker
from lockgate.use_cases.maintenance import Janitor, Scheduler
from lockgate.use_cases.pool_backend import PoolInvocationBackend
from lockgate.use_cases.pool_manager import PoolManager
from lockgate.use_cases.request_processor import GatewayRequestProcessor

__all__ = ["Application", "build"]

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
    started: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def routes(self) -> RouteTable:
        """The route table in force (the processor's: one copy, replaced whole on reload)."""
        return self.processor.routes

    async def start(self) -> None:
        """Start the Scheduler (which warms ``min_warm`` workers) and the Janitor."""
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
        await self.pool_manager.close(grace=self.settings.shutdown_grace)
        self.started = False

    def register_function(self, function: FunctionEntity) -> None:
        """Add or change a function; a changed one's old pool drains and is replaced."""
        self.registry.register(function)
        if self.started:
            self.pool_manager.pool_for(function).ensure_min_warm()

    def apply(self, config: GatewayConfig) -> None:
        """Serve ``config`` from now on: changed functions get new pools (the old ones drain),
        removed ones drain and go, and the route table is replaced whole."""
        for function in self.registry.all():
            if function.name not in config.functions:
                self.registry.remove(function.name)
                self.pool_manager.remove(function.name)
        for function in config.functions.values():
            self.register_function(function)
        self.processor.routes = RouteTable(config.routes)

    def reload(self) -> None:
        """Re-read the config file (on SIGHUP); a bad file is logged and changes nothing."""
        if self.settings.config is None:
            logger.warning("reload asked for, but the gateway was started without a config file")
            return
        try:
            config, _ = load_config(self.settings.config)
        except ConfigError as exc:
            logger.error("reload refused, still serving the previous configuration: %s", exc)
            return
        self.apply(config)
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
        return gateway_health(self.registry, self.pool_manager, self.invoker)


def build(
    settings: Settings,
    config: GatewayConfig | None = None,
    *,
    launcher: IWorkerLauncher | None = None,
) -> Application:
    """Wire a gateway.

    Args:
        settings: Gateway-wide settings.
        config: The functions and routes to serve.
        launcher: Starts workers; real processes unless a test passes a fake.
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
    return Application(
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
    )
