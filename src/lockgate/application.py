"""``Application``: everything a running gateway is made of, and its life cycle.

``lockgate.bootstrap.build`` makes one; this module imports no concrete gateway (the stores,
resolvers, metrics and secrets it uses are handed to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from lockgate.config.settings import Settings, load_config
from lockgate.errors import ConfigError, ResourceConfigError
from lockgate.gateways.interfaces import NO_TRACER, IEventStore, ILogLines, ITracer
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.readiness import NotReady, Readiness
from lockgate.models.resource import ResourceReference
from lockgate.models.routing import RouteTable
from lockgate.models.run import RunPage, RunStatus, WorkflowRequest, WorkflowResponse
from lockgate.models.security.config import SecurityConfig
from lockgate.models.security.sigv4 import AwsCredential
from lockgate.models.workflow import Workflow
from lockgate.use_cases.auth.authenticator import Authenticator
from lockgate.use_cases.auth.credentials import CredentialService
from lockgate.use_cases.auth.rate_limits import ClientRateLimiter
from lockgate.use_cases.auth.usage.meter import FLUSH_INTERVAL
from lockgate.use_cases.events.bus import EventBus
from lockgate.use_cases.functions.handler_check import HandlerProblem
from lockgate.use_cases.functions.health import gateway_health
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.log_buffer import FunctionLogBuffer
from lockgate.use_cases.functions.pool_manager import PoolManager
from lockgate.use_cases.functions.registry import FunctionRegistry
from lockgate.use_cases.functions.warm_pool import Janitor, Scheduler
from lockgate.use_cases.invocations.queue import AsyncInvocationQueue
from lockgate.use_cases.jobs.service import JobService
from lockgate.use_cases.modules import context as module_context
from lockgate.use_cases.modules.registry import ModuleRegistry
from lockgate.use_cases.reload.reloader import CodeReloader
from lockgate.use_cases.resources.registry import ResourceRegistry
from lockgate.use_cases.routes.request_processor import GatewayRequestProcessor
from lockgate.use_cases.secrets.setup import OpenSecrets, SecretBackend
from lockgate.use_cases.workflows.loader import load_workflow
from lockgate.use_cases.workflows.service import WorkflowService
from lockgate.use_cases.workflows.store_probe import RunStoreProbe

if TYPE_CHECKING:  # named for the type only: bootstrap makes it
    from lockgate.gateways.metrics.prometheus import PrometheusMetrics

__all__ = ["Application", "SecretsOpener"]

logger = logging.getLogger(__name__)


SecretsOpener = Callable[
    [Mapping[str, ResourceReference], tuple[AwsCredential, ...]], Awaitable[OpenSecrets]
]
"""Opens the secrets at start, given the shared resources and ``[aws_credentials]`` in force
(those naming credentials need secrets)."""


@dataclass(eq=False)
class Application:
    """Everything a running gateway is made of: ``lockgate.bootstrap.build`` makes every
    part and hands it here; this class only runs them (``start``/``stop``) and puts a
    configuration in force (``apply``, at build and on every reload).

    ``title`` and ``description`` name the gateway in its OpenAPI document and ``health()``
    (the seed's ``EnhancedDurableAPIGateway(title=..., description=...)``).
    """

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
    modules: ModuleRegistry
    event_bus: EventBus
    limiter: ClientRateLimiter
    auth_failures: ClientRateLimiter
    authenticator: Authenticator
    open_secrets: SecretsOpener
    event_store: IEventStore | None = None
    async_invocations: AsyncInvocationQueue | None = None
    jobs: JobService | None = None
    credentials: CredentialService | None = None
    # Every function's latest output lines, for ``lockgate logs``.
    function_logs: FunctionLogBuffer = field(default_factory=FunctionLogBuffer)
    # One line per request, when ``access_log`` is on.
    access_log: ILogLines | None = None
    run_store_probe: RunStoreProbe | None = None
    reloader: CodeReloader | None = None  # ``lockgate serve --reload``
    # Loads handlers in throwaway workers (``check_handlers``): on SIGHUP, a file whose new
    # or changed functions cannot load is refused, as at start-up. None: not checked.
    check_handlers: Callable[[Iterable[FunctionEntity]], Awaitable[list[HandlerProblem]]] | None = (
        None
    )
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Spans of requests and of what they run; the HTTP app opens each request's own.
    tracer: ITracer = NO_TRACER
    title: str = "Lockgate"
    description: str = ""
    # What ``apply`` put in force: the config, its security and its shared resources.
    config: GatewayConfig = field(default_factory=GatewayConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    shared_resources: dict[str, ResourceReference] = field(default_factory=dict)
    started: bool = False
    draining: bool = False  # stopping (from SIGTERM on): /readyz sends traffic elsewhere
    _secrets: OpenSecrets | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _sighup: asyncio.Task[None] | None = None  # the reload a SIGHUP started, while it runs
    _sighup_again: bool = False  # another SIGHUP came meanwhile: read the file once more
    _stack: contextlib.AsyncExitStack | None = None  # what start opened, to close in reverse

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
        start the modules and the event bus (resumed runs may call them), open the run
        store and resume unfinished runs, then start the Scheduler (which warms ``min_warm``
        workers), the Janitor, the idle-resource sweeps and the event purge.

        Each part, once started, leaves its undo on one ``AsyncExitStack``: a start that
        fails part-way closes, in reverse order, exactly what it had opened, and ``stop``
        closes the rest the same way.

        Raises:
            MasterKeyError: Secrets are configured but no (or the wrong) master key is.
            RunStoreError, SecretStoreError: A store cannot be opened.
        """
        self.draining = False
        async with contextlib.AsyncExitStack() as stack:
            if self.credentials is not None:
                await self.credentials.store.open()
                stack.push_async_callback(self._close_credentials)
            self._secrets = await self.open_secrets(
                self.shared_resources, self.security.aws_credentials
            )
            stack.push_async_callback(self._close_secrets)
            self.resources.open(self._secrets.backend)
            stack.push_async_callback(self._close_resources)
            stack.push_async_callback(self._close_pools)
            await self._start_modules(stack)
            # Runs, Event invocations and jobs stop together, sharing one grace: they still
            # need the pools, the modules and the event bus, so they stop before those.
            stack.push_async_callback(self._stop_work)
            await self.workflows.start()
            if self.async_invocations is not None:
                await self.async_invocations.start()
            if self.jobs is not None:
                await self.jobs.start()
            self.scheduler.tick()
            self._watch_sighup(install=True)
            stack.callback(self._watch_sighup, install=False)
            stack.push_async_callback(self._cancel_tasks)
            self._tasks = [
                asyncio.create_task(self.scheduler.run(), name="lockgate-scheduler"),
                asyncio.create_task(self.janitor.run(), name="lockgate-janitor"),
                asyncio.create_task(self.resources.run_sweeps(), name="lockgate-resource-sweeps"),
                asyncio.create_task(self._flush_credentials(), name="lockgate-credential-use"),
                asyncio.create_task(self._flush_usage(), name="lockgate-api-key-usage"),
            ]
            if self.run_store_probe is not None:
                self._tasks.append(
                    asyncio.create_task(self.run_store_probe.run(), name="lockgate-run-store-probe")
                )
            if self.reloader is not None:
                self._tasks.append(asyncio.create_task(self.reloader.run(), name="lockgate-reload"))
            self._stack = stack.pop_all()
        self.started = True

    async def stop(self) -> None:
        """Let in-flight calls finish (``shutdown_grace``), then end every worker process,
        then close the resources and the secrets (each part whatever the one before raised).
        A gateway never started still has its pools and resources closed."""
        self.draining = True
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                await stack.aclose()
            else:
                try:
                    await self._close_pools()
                finally:
                    await self._close_resources()
        finally:
            self.started = False

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _close_pools(self) -> None:
        await self.pool_manager.close(grace=self.settings.shutdown_grace)

    async def _stop_work(self) -> None:
        grace = self.settings.shutdown_grace
        stops = [self.workflows.stop(grace=grace)]
        if self.async_invocations is not None:
            stops.append(self.async_invocations.stop(grace=grace))
        if self.jobs is not None:
            stops.append(self.jobs.stop())
        for outcome in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _start_modules(self, stack: contextlib.AsyncExitStack) -> None:
        """Bind ``lockgate.modules``, open the event store, make every module's services in
        dependency order (their constructors may subscribe), then deliver events; each
        leaves its undo on ``stack``."""
        module_context.bind(self.modules, self.event_bus)
        stack.callback(module_context.unbind, self.modules)
        if self.event_store is not None:
            await self.event_store.open()
            stack.push_async_callback(self.event_store.close)
        self.modules.initialise()
        stack.push_async_callback(self.event_bus.stop, grace=self.settings.shutdown_grace)
        await self.event_bus.start()

    async def _flush_credentials(self) -> None:
        """Write tokens' last-use times once a minute (never on the request path)."""
        if self.credentials is None:
            return
        while True:
            await asyncio.sleep(60)
            try:
                await self.credentials.flush()
            except Exception:  # kept for the next minute's flush
                logger.exception("recording when tokens were last used failed")

    async def _flush_usage(self) -> None:
        """Write API keys' usage counts every ``FLUSH_INTERVAL`` (in batches, never one
        write per request), learning other nodes' counts at the same time."""
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                await self._flush_usage_once()
            except Exception:  # the counts are kept for the next flush
                logger.exception("recording API key usage failed")

    async def _flush_usage_once(self) -> None:
        guard = self.processor.guard
        if guard is not None and guard.api_keys is not None:
            await guard.api_keys.meter.flush()

    async def _close_credentials(self) -> None:
        if self.credentials is None:
            return
        try:
            await self.credentials.flush()
        except Exception:
            logger.exception("recording when tokens were last used failed")
        try:
            await self._flush_usage_once()
        except Exception:
            logger.exception("recording API key usage failed")
        try:
            await self.credentials.store.close()
        except Exception:
            logger.exception("closing the credential store failed")

    async def _close_resources(self) -> None:
        """Close remote backends' clients and job runners, then the resources' pools."""
        try:
            for close in self.closers:
                try:
                    await close()
                except Exception:
                    logger.exception("closing %r failed", close)
        finally:
            await self.resources.close()

    async def _close_secrets(self) -> None:
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
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Make ``workflow`` runnable as ``workflow_id`` (see ``WorkflowService``)."""
        self.workflows.register_workflow(
            workflow_id, workflow, required_resources, description, metadata
        )

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
        if self.started and function.backend == "local":
            self.pool_manager.pool_for(function).ensure_min_warm()

    def apply(self, config: GatewayConfig) -> None:
        """Serve ``config`` from now on (``build`` calls this for the first config, as every
        reload does for the next): changed functions get new pools (the old ones drain),
        removed ones drain and go, the route table is replaced whole, and new workflows are
        registered (a registered workflow keeps its definition: its runs depend on it), as
        are new shared resources (a registered one keeps its pool: runs hold it).

        Raises:
            ConfigError: A new workflow's builder fails, a new shared resource is invalid, or
                ``[aws_credentials]`` are declared on a gateway without secrets; nothing has
                changed then.
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
        keys = [c.name for c in config.security.aws_credentials]
        if keys and self.started and self.secret_manager is None:
            raise ConfigError(
                f"aws_credentials {', '.join(keys)} keep their secret keys in secrets, but this "
                "gateway runs without secrets; restart it with a master key or secrets = env",
                key=f"aws_credentials.{keys[0]}.secret_ref",
            )
        for function in self.registry.all():
            if function.name not in config.functions:
                self.registry.remove(function.name)
                self.pool_manager.remove(function.name)
                self.function_logs.forget(function.name)
        for function in config.functions.values():
            self.register_function(function)
        self.processor.routes = RouteTable(config.routes)
        self.config = config
        self.security = config.security
        self.processor.cors = config.security.cors
        for limiter in (self.limiter, self.auth_failures):
            limiter.rate = config.security.limits.rate
            limiter.burst = config.security.limits.burst
        if self.processor.guard is not None:  # authorizers and usage plans, as declared now
            self.processor.guard.configure(config.security)
        self.workflows.max_runs_per_principal = config.security.limits.max_runs_per_principal
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

    def reload(self) -> GatewayConfig | None:
        """Re-read the config file (on a change with ``--reload``); a bad file is logged
        and changes nothing.

        Returns:
            The configuration now in force; None when there was no file or it was refused.
        """
        config = self._read_config()
        return None if config is None else self._put_in_force(config)

    async def reload_checked(self) -> GatewayConfig | None:
        """``reload``, as SIGHUP does it: the handlers of new and changed functions are
        loaded first in throwaway workers, as at start-up (unless ``check_handlers`` is
        off), and one that cannot load refuses the whole file: the previous configuration
        keeps serving, and the log says what failed.

        Returns:
            The configuration now in force; None when there was no file or it was refused.
        """
        config = self._read_config()
        if config is None:
            return None
        if self.check_handlers is not None:
            changed = [
                function
                for name, function in config.functions.items()
                if name not in self.registry or self.registry.get(name) != function
            ]
            problems = await self.check_handlers(changed) if changed else []
            if problems:
                logger.error(
                    "reload refused, still serving the previous configuration: %s",
                    "; ".join(f"functions.{p.function}.{p.key}: {p.message}" for p in problems),
                )
                return None
        return self._put_in_force(config)

    def _read_config(self) -> GatewayConfig | None:
        if self.settings.config is None:
            logger.warning("reload asked for, but the gateway was started without a config file")
            return None
        try:
            config, _ = load_config(self.settings.config)
        except ConfigError as exc:
            logger.error("reload refused, still serving the previous configuration: %s", exc)
            return None
        return config

    def _put_in_force(self, config: GatewayConfig) -> GatewayConfig | None:
        try:
            self.apply(config)
        except ConfigError as exc:
            logger.error("reload refused, still serving the previous configuration: %s", exc)
            return None
        logger.info(
            "reloaded %s: %d functions, %d routes",
            self.settings.config,
            len(config.functions),
            len(config.routes),
        )
        return config

    def _on_sighup(self) -> None:
        """One checked reload at a time; SIGHUPs during it make one more afterwards."""
        if self._sighup is not None and not self._sighup.done():
            self._sighup_again = True
            return
        self._sighup = asyncio.get_running_loop().create_task(self._reload_on_sighup())

    async def _reload_on_sighup(self) -> None:
        while True:
            self._sighup_again = False
            try:
                await self.reload_checked()
            except Exception:  # a failed check must not end the gateway, nor later SIGHUPs
                logger.exception("reload on SIGHUP failed, still serving the previous one")
            if not self._sighup_again:
                return

    def _watch_sighup(self, *, install: bool) -> None:
        # Only the main thread may own signal handlers; an embedding host may reload by hand.
        if (
            self.settings.config is None
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        loop = asyncio.get_running_loop()
        if install:
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        else:
            loop.remove_signal_handler(signal.SIGHUP)
            if self._sighup is not None:
                self._sighup.cancel()

    def begin_draining(self) -> None:
        """Stopping soon: ``/readyz`` answers 503 ``draining`` from now on, while every
        other endpoint still serves (``stop`` does this too)."""
        self.draining = True

    def ready(self) -> bool:
        return self.readiness().ready

    def readiness(self) -> Readiness:
        """Whether to send this gateway traffic: not while it starts or drains, while a
        ``min_warm`` function cannot start its workers, or while the run store does not
        answer (every new run would fail). Reads remembered state only: no I/O."""
        reasons: list[NotReady] = []
        if self.draining:
            reasons.append(NotReady.DRAINING)
        elif not self.started:
            reasons.append(NotReady.STARTING)
        # Not while stopping: the pools are closing, and draining already says enough.
        short = self.scheduler.short() if self.started and not self.draining else {}
        if any(error is None for error in short.values()):
            reasons.append(NotReady.STARTING)
        if any(error is not None for error in short.values()):
            reasons.append(NotReady.FUNCTION_CANNOT_START)
        store_error = self.run_store_probe.error if self.run_store_probe is not None else None
        if store_error is not None and self.started:
            reasons.append(NotReady.RUN_STORE_UNREACHABLE)
        return Readiness(tuple(reasons), short, store_error if self.started else None)

    def health(self) -> dict[str, Any]:
        """Functions and workflows only, without I/O (``health_check`` adds resources)."""
        health = gateway_health(self.registry, self.pool_manager, self.invoker)
        health["gateway"] = {"title": self.title, "description": self.description}
        health["workflows"] = {
            "registered": len(self.workflows.workflows()),
            "active_runs": self.workflows.active_runs,
        }
        return health

    async def health_check(self) -> dict[str, Any]:
        """The seed's ``gateway.health_check()``: ``status`` (``healthy``, or ``degraded``
        when a function or shared resource is not), ``functions``, ``workflows``,
        ``resources`` (each shared resource, probed: ``SELECT 1``, ``PING`` ...),
        ``inline_resources`` (live inline pools, counted by type, not probed),
        ``secrets`` (the backend in use), ``run_store`` (its last ping) and ``readiness``
        (``/readyz``'s verdict, with the functions short of ``min_warm`` by name)."""
        health = self.health()
        resources = await self.resources.health()
        health["resources"] = resources
        health["inline_resources"] = self.resources.inline()
        health["secrets"] = {"backend": self._secrets.kind if self._secrets else "off"}
        modules = await self.modules.check_modules(self.settings.resource_health_timeout)
        health["modules"] = modules
        readiness = self.readiness()
        health["readiness"] = {
            "ready": readiness.ready,
            "reasons": [reason.value for reason in readiness.reasons],
            "functions": dict(readiness.functions),
        }
        if self.run_store_probe is not None:
            health["run_store"] = {
                "status": "unhealthy" if readiness.run_store_error else "healthy",
                "error": readiness.run_store_error,
            }
        unhealthy = (*resources.values(), *modules.values())
        if any(r["status"] != "healthy" for r in unhealthy) or readiness.run_store_error:
            health["status"] = "degraded"
        return health
