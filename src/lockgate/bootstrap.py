"""The composition root: the only module that knows every concrete class.

``build(settings, config)`` wires an ``Application``; nothing here does I/O at import time,
and ``Application.start()``/``stop()`` own every background task and worker process.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lockgate.application import Application, SecretsOpener
from lockgate.config.locations import config_dir as _config_dir
from lockgate.config.locations import local_admin_token_path
from lockgate.config.problems import Problem, dotted
from lockgate.config.settings import Settings, listen_address
from lockgate.errors import ConfigError
from lockgate.gateways.auth.httpx_key_fetcher import HttpxKeySetFetcher
from lockgate.gateways.interfaces import (
    NO_TRACER,
    ICredentialStore,
    IEventStore,
    IInvocationBackend,
    IJobRunner,
    IResourceResolver,
    IRunStore,
    ISecretStore,
    ISigV4Signer,
    ITracer,
    IWorkerLauncher,
)
from lockgate.gateways.job_runners.local_process import JobOutput, LocalProcessJobRunner
from lockgate.gateways.logs.stream import TextStreamLogLines
from lockgate.gateways.metrics.prometheus import PrometheusMetrics
from lockgate.gateways.resources.cache.resolver import RedisOrMemoryCacheResolver
from lockgate.gateways.resources.database.resolver import PostgresOrSQLiteDatabaseResolver
from lockgate.gateways.resources.database.sqlite import SQLiteDatabaseResolver
from lockgate.gateways.resources.egress.guard import DnsEgressGuard
from lockgate.gateways.resources.http.resolver import HttpxHttpClientResolver
from lockgate.gateways.resources.queue.resolver import NatsQueueResolver
from lockgate.gateways.stores.factory import StoreFactory
from lockgate.gateways.stores.secrets.env import EnvironmentSecrets
from lockgate.gateways.workers.launcher import ProcessOrRuntimeApiWorkerLauncher
from lockgate.gateways.workers.process import ProcessWorkerLauncher
from lockgate.gateways.workers.runtime_api.worker import RuntimeApiWorkerLauncher
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.resource import ResourceReference
from lockgate.models.security.config import SecurityConfig
from lockgate.models.security.egress import EgressPolicy
from lockgate.models.security.principals import CredentialKind
from lockgate.models.security.sigv4 import AwsCredential
from lockgate.use_cases.apigw.events import EventBuilder
from lockgate.use_cases.auth.authenticator import Authenticator, StaticToken
from lockgate.use_cases.auth.authorizers.bearer import JwtBearerVerifier
from lockgate.use_cases.auth.aws_signatures import SigV4Authenticator, check_aws_secrets
from lockgate.use_cases.auth.credentials import CredentialService
from lockgate.use_cases.auth.exposure import check_exposure, served_surfaces
from lockgate.use_cases.auth.rate_limits import ClientRateLimiter
from lockgate.use_cases.auth.route_guard import RouteGuard
from lockgate.use_cases.auth.usage.api_keys import ApiKeyGate
from lockgate.use_cases.auth.usage.meter import UsageMeter
from lockgate.use_cases.events.bus import EventBus
from lockgate.use_cases.functions.backend_router import BackendRouter
from lockgate.use_cases.functions.handler_check import HandlerProblem, check_handlers
from lockgate.use_cases.functions.lambda_invoker import LambdaInvoker
from lockgate.use_cases.functions.log_buffer import FunctionLogBuffer
from lockgate.use_cases.functions.output import FunctionOutput
from lockgate.use_cases.functions.pool_backend import PoolInvocationBackend
from lockgate.use_cases.functions.pool_manager import PoolManager
from lockgate.use_cases.functions.registry import FunctionRegistry
from lockgate.use_cases.functions.traced_invoker import TracedLambdaInvoker
from lockgate.use_cases.functions.warm_pool import Janitor, Scheduler
from lockgate.use_cases.invocations.queue import AsyncInvocationQueue
from lockgate.use_cases.jobs.service import JobService
from lockgate.use_cases.modules.declarations import modules_from_dict
from lockgate.use_cases.modules.loader import import_services
from lockgate.use_cases.modules.registry import ModuleRegistry
from lockgate.use_cases.reload.reloader import CodeReloader
from lockgate.use_cases.resources.registry import ResourceRegistry
from lockgate.use_cases.routes.request_processor import GatewayRequestProcessor
from lockgate.use_cases.secrets.master_key import MASTER_KEY_ENV, load_master_key
from lockgate.use_cases.secrets.setup import OpenSecrets, SecretBackend, open_secrets
from lockgate.use_cases.workflows.executor import WorkflowExecutor
from lockgate.use_cases.workflows.function_step import FunctionStepCaller
from lockgate.use_cases.workflows.service import WorkflowService
from lockgate.use_cases.workflows.store_probe import RunStoreProbe

if TYPE_CHECKING:  # boto3 is an extra: imported for the type only
    from lockgate.gateways.aws.lambda_backend import AWSLambdaInvocationBackend as AWSLambdaBackend


__all__ = [
    "Application",
    "build",
    "check_access",
    "check_functions",
    "check_run_store",
    "check_secrets",
    "credential_store",
    "local_admin_token_path",
    "secret_store",
]

# Application lives in its own module; it is re-exported here, where callers find it.

logger = logging.getLogger(__name__)


def build(
    settings: Settings,
    config: GatewayConfig | None = None,
    *,
    launcher: IWorkerLauncher | None = None,
    run_store: IRunStore | None = None,
    secret_manager: SecretBackend | None = None,
    resource_registry: ResourceRegistry | None = None,
    modules: Mapping[str, Mapping[str, Any]] | None = None,
    local_admin_token: str | None = None,
    tracer: ITracer | None = None,
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
            It keeps its own ``allow_inline`` (off unless it was made with it on); when it
            has no egress guard it gets the one ``settings.inline_allowed_hosts`` makes.
        modules: Modules declared as the seed's dict (``{"users": {"name": ...,
            "services_module": ..., "dependencies": [...], "provides": [...]}}``), beside
            those of ``config``; their services modules import from the working directory.
        local_admin_token: The token ``lockgate serve`` keeps in its local file, accepted
            with the ``admin`` scope.
        tracer: Where spans go; by default the one ``config.tracing`` describes (none when
            tracing is off, and then OpenTelemetry is not imported). Tests pass one with an
            in-memory exporter.

    The config is put in force by ``Application.apply``, the same path every SIGHUP
    reload takes, so start-up and reload cannot disagree on what a config means.

    Raises:
        ConfigError: A declared workflow's builder cannot be loaded, a declared shared
            resource has an unknown type or bad config (the message names the key), or a
            module's declaration is invalid (unknown dependency, cycle), its services
            module does not import, or it does not make what it provides.
    """
    config = config or GatewayConfig()
    tracer = tracer or _tracer(config)
    registry = FunctionRegistry()
    metrics = PrometheusMetrics()
    log_lines = TextStreamLogLines(settings.log_format, settings.log_level)
    output = FunctionOutput(
        FunctionLogBuffer(settings.function_log_lines),
        log_lines if settings.function_logs else None,
        rate=settings.function_log_rate,
    )
    pool_manager = PoolManager(
        launcher or _worker_launcher(settings, output),
        start_budget=settings.start_budget,
        metrics=metrics,
    )
    backends: dict[str, IInvocationBackend] = {
        "local": PoolInvocationBackend(pool_manager, tracer=tracer)
    }
    closers: list[Callable[[], Awaitable[None]]] = []
    if any(f.backend == "aws-lambda" for f in config.functions.values()):
        aws_lambda = _aws_lambda_backend(settings, registry)
        backends["aws-lambda"] = aws_lambda
        closers.append(aws_lambda.close)
    invoker = (
        TracedLambdaInvoker(
            registry, BackendRouter(backends), metrics, tracer=tracer, output=output
        )
        if tracer.enabled
        else LambdaInvoker(registry, BackendRouter(backends), metrics, output=output)
    )
    metrics.watch(
        pool_manager.stats,
        lambda: [(f.name, invoker.breaker_state(f.name)) for f in registry.all()],
    )
    stores = StoreFactory(settings)
    store = run_store or stores.runs()
    egress = DnsEgressGuard(EgressPolicy.from_entries(settings.inline_allowed_hosts))
    resources = resource_registry or ResourceRegistry(
        idle_ttl=settings.resource_idle_ttl,
        health_timeout=settings.resource_health_timeout,
        max_inline=settings.max_inline_resources,
        allow_inline=settings.allow_inline_resources,
        egress=egress,
        inline_credentials=settings.inline_credentials,
    )
    if resources.egress is None:  # a caller's registry: its inline references obey ours
        resources.egress = egress
    resources.pools.tracer = tracer
    if settings.allow_inline_resources:  # where callers can make this gateway connect
        logger.info(
            "inline resources are on; inline_allowed_hosts: %s",
            ", ".join(settings.inline_allowed_hosts) or "none (no inline host is reachable)",
        )
    for type_name, resolver in _builtin_resolvers(settings).items():
        if type_name not in resources.resolver_types():  # the caller's own resolvers win
            resources.register_resolver(type_name, resolver)
    workflows = WorkflowService(
        store,
        WorkflowExecutor(
            store,
            FunctionStepCaller(invoker),
            metrics=metrics,
            max_output_bytes=settings.max_step_output_bytes,
            tracer=tracer,
        ),
        resources,
        node_id=settings.node_id,
        lease_seconds=settings.run_lease,
        retention=settings.run_retention,
        function_exists=registry.__contains__,
    )
    credentials = CredentialService(
        credential_store(settings), cache_ttl=config.security.auth.token_cache_ttl
    )
    events = EventBuilder()
    guard = RouteGuard(
        invoker,
        events,
        HttpxKeySetFetcher(),
        ApiKeyGate(credentials, UsageMeter(credentials.store)),
    )
    closers.append(guard.close)
    parts = _module_parts(settings, config, modules, metrics, tracer)
    runners = _job_runners(settings, config, output.record_job)
    if config.security.aws_credentials:
        _sigv4_signer()  # fail now, not at the first signed request, without botocore
    # The lambdas read the application's config and secrets as they are at each request
    # (a reload replaces the first, start opens the second); ``application`` is bound below.
    signatures = SigV4Authenticator(
        lambda: application.security.aws_credentials,
        lambda: application.secret_manager,
        _sigv4_signer,
    )

    async def close_runners() -> None:
        for runner in runners.values():
            await runner.close()

    limits = SecurityConfig().limits  # the defaults, until ``apply`` sets the config's
    application = Application(
        settings=settings,
        registry=registry,
        pool_manager=pool_manager,
        invoker=invoker,
        processor=GatewayRequestProcessor(
            invoker, events, max_body_bytes=settings.max_body_bytes, guard=guard, tracer=tracer
        ),
        janitor=Janitor(pool_manager, interval=settings.janitor_interval),
        scheduler=Scheduler(
            pool_manager, lambda: [f for f in registry.all() if f.backend == "local"]
        ),
        metrics=metrics,
        workflows=workflows,
        run_store_probe=RunStoreProbe(store, timeout=settings.resource_health_timeout),
        resources=resources,
        open_secrets=_secrets_opener(settings, secret_manager),
        modules=parts.modules,
        event_bus=parts.event_bus,
        event_store=parts.event_store,
        closers=[*closers, tracer.flush],
        tracer=tracer,
        jobs=JobService(stores.jobs(), runners, config.jobs, close_runners=close_runners),
        check_handlers=(
            functools.partial(_load_handlers, settings) if settings.check_handlers else None
        ),
        async_invocations=AsyncInvocationQueue(
            stores.invocations(),
            invoker,
            registry,
            node_id=settings.node_id,
            max_retries=settings.async_max_retries,
            retry_delay=settings.async_retry_delay,
            max_event_age=settings.async_max_event_age,
            concurrency=settings.async_concurrency,
            retention=settings.async_retention,
            max_queued=settings.async_max_queued,
            metrics=metrics,
            tracer=tracer,
        ),
        limiter=ClientRateLimiter(limits.rate, limits.burst),
        auth_failures=ClientRateLimiter(limits.rate, limits.burst),
        function_logs=output.buffer,
        access_log=log_lines if settings.access_log else None,
        credentials=credentials,
        authenticator=Authenticator(
            credentials,
            static=_static_tokens(settings.admin_token, local_admin_token),
            verifiers=[JwtBearerVerifier(guard.auth_verifier)],
            signatures=signatures,
        ),
    )
    application.apply(config)  # start-up puts the config in force as every reload does
    if settings.reload:
        application.reloader = _reloader(application)
    return application


def _reloader(application: Application) -> CodeReloader:
    """``--reload``: watches through watchfiles (imported only when asked for)."""
    from lockgate.gateways.watch.watchfiles import WatchfilesWatcher  # noqa: PLC0415

    return CodeReloader(
        WatchfilesWatcher(),
        config_file=application.settings.config,
        config=lambda: application.config,
        apply_file=application.reload,
        pools=application.pool_manager,
        workflows=application.workflows,
    )


def _worker_launcher(settings: Settings, output: FunctionOutput | None = None) -> IWorkerLauncher:
    """Worker processes: ``python -m lockgate.worker``, or a custom runtime's command;
    ``output`` takes what a long invocation prints as it runs."""
    listener = output.record if output is not None else None
    return ProcessOrRuntimeApiWorkerLauncher(
        native=ProcessWorkerLauncher(log_capture_bytes=settings.log_capture_bytes, output=listener),
        provided=RuntimeApiWorkerLauncher(
            log_capture_bytes=settings.log_capture_bytes, output=listener
        ),
    )


async def check_functions(settings: Settings, config: GatewayConfig) -> list[Problem]:
    """Each local function's handler, loaded in a throwaway worker as a call would load it
    (never in this process); a problem at ``functions.NAME.handler`` for each that fails.

    Side Effects:
        Starts and kills one worker process per local function.
    """
    found = await _load_handlers(settings, config.functions.values())
    return [Problem(dotted(("functions", p.function, p.key)), p.message) for p in found]


async def _load_handlers(
    settings: Settings, functions: Iterable[FunctionEntity]
) -> list[HandlerProblem]:
    """``functions``' handlers loaded in throwaway workers (start-up, SIGHUP)."""
    return await check_handlers(
        functions, _worker_launcher(settings), concurrency=settings.start_budget
    )


def _tracer(config: GatewayConfig) -> ITracer:
    """The tracer ``[tracing]`` asks for; OpenTelemetry is imported only when it is on.

    Raises:
        ConfigError: Tracing is on and OpenTelemetry is not installed (the ``otel`` extra).
    """
    if not config.tracing.enabled:
        return NO_TRACER
    try:
        from lockgate.gateways.tracing.otel import open_tracer  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"[tracing] is enabled, which needs OpenTelemetry: install lockgate[otel] ({exc})",
            key="tracing.enabled",
        ) from None
    return open_tracer(config.tracing)


@functools.cache
def _sigv4_signer() -> ISigV4Signer:
    """The SigV4 signer; botocore is imported only when a gateway checks signatures.

    Raises:
        ConfigError: botocore is not installed (the ``aws`` extra).
    """
    try:
        from lockgate.gateways.aws.sigv4 import BotocoreSigV4Signer  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"[aws_credentials] need botocore to check AWS signatures: install lockgate[aws] "
            f"({exc})",
            key="aws_credentials",
        ) from None
    return BotocoreSigV4Signer()


def _static_tokens(admin_token: str | None, local: str | None) -> list[StaticToken]:
    tokens = []
    if admin_token is not None:
        tokens.append(StaticToken.admin(admin_token, "admin", "admin_token"))
    if local is not None:
        tokens.append(StaticToken.admin(local, "local-admin", "local_admin"))
    return tokens


class _ModuleParts(NamedTuple):
    modules: ModuleRegistry
    event_bus: EventBus
    event_store: IEventStore | None


def _module_parts(
    settings: Settings,
    config: GatewayConfig,
    extra: Mapping[str, Mapping[str, Any]] | None,
    metrics: PrometheusMetrics,
    tracer: ITracer,
) -> _ModuleParts:
    """The module registry (loaded: user code imported, declarations checked), the event
    bus and, for durable events, the event store beside the runs."""
    # The seed's dict names services modules as the user's own imports: from the folder the
    # program runs in (a script run from elsewhere does not have it on sys.path).
    declarations = {**config.modules, **modules_from_dict(extra or {}, code_dir=Path.cwd())}
    registry = ModuleRegistry(declarations, import_services)
    registry.load()
    metrics.watch_module_calls(registry.call_counts)
    store = StoreFactory(settings).events() if settings.durable_events else None
    bus = EventBus(
        store,
        node_id=settings.node_id,
        delivery_timeout=settings.event_delivery_timeout,
        # A delivery still running must not be claimed again by another node meanwhile.
        lease_seconds=settings.event_delivery_timeout + 5.0,
        max_attempts=settings.event_max_attempts,
        known_modules=declarations.keys,
        retention=settings.event_retention,
        tracer=tracer,
    )
    metrics.watch_events(bus.stats)
    return _ModuleParts(registry, bus, store)


def _aws_lambda_backend(settings: Settings, registry: FunctionRegistry) -> AWSLambdaBackend:
    """The backend of ``aws-lambda`` functions; boto3 is imported only when one is declared.

    Raises:
        ConfigError: boto3 is not installed (the ``aws`` extra).
    """
    try:
        from lockgate.gateways.aws.lambda_backend import (  # noqa: PLC0415
            AWSLambdaInvocationBackend,
        )
    except ImportError as exc:
        names = ", ".join(f.name for f in registry.all() if f.backend == "aws-lambda")
        raise ConfigError(
            f"function(s) {names} run on backend 'aws-lambda', which needs boto3: install "
            f"lockgate[aws] ({exc})",
            key="backend",
        ) from None
    return AWSLambdaInvocationBackend(
        region=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )


def _job_runners(
    settings: Settings, config: GatewayConfig, output: JobOutput
) -> dict[str, IJobRunner]:
    """Local processes always; AWS Batch when a job is declared for it (boto3 imported then).

    Raises:
        ConfigError: An ``aws-batch`` job is declared and boto3 is not installed.
    """
    runners: dict[str, IJobRunner] = {
        "local": LocalProcessJobRunner(node_id=settings.node_id, output=output)
    }
    batch_jobs = [j.name for j in config.jobs.values() if j.runner == "aws-batch"]
    if batch_jobs:
        try:
            from lockgate.gateways.aws.batch_job_runner import (  # noqa: PLC0415
                AWSBatchJobRunner,
            )
        except ImportError as exc:
            raise ConfigError(
                f"job(s) {', '.join(batch_jobs)} run on AWS Batch, which needs boto3: install "
                f"lockgate[aws] ({exc})",
                key="runner",
            ) from None
        runners["aws-batch"] = AWSBatchJobRunner(
            region=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )
    return runners


def _builtin_resolvers(settings: Settings) -> dict[str, IResourceResolver]:
    """The resource types every gateway resolves. SQLite databases are confined to the
    config's folder: a request must not open the run store or other files by path."""
    path = StoreFactory(settings).sqlite_path
    forbidden = (path,) if path is not None else ()
    return {
        "database": PostgresOrSQLiteDatabaseResolver(
            sqlite=SQLiteDatabaseResolver(base_dir=_config_dir(settings), forbidden=forbidden)
        ),
        "http_client": HttpxHttpClientResolver(),
        "cache": RedisOrMemoryCacheResolver(),
        "message_queue": NatsQueueResolver(),
    }


def _secrets_opener(settings: Settings, given: SecretBackend | None) -> SecretsOpener:
    """What ``Application.start`` calls to open its secrets, with the shared resources and
    ``[aws_credentials]`` in force: the caller's manager as given, or the backend the
    settings choose; either way, every ``[aws_credentials]`` key's secret must be readable
    (else ``ConfigError``, and nothing stays open)."""

    async def opened(
        shared: Mapping[str, ResourceReference], aws_credentials: tuple[AwsCredential, ...]
    ) -> OpenSecrets:
        secrets = (
            OpenSecrets(given, None, "given")
            if given is not None
            else await _open_secrets(settings, shared)
        )
        try:
            await check_aws_secrets(aws_credentials, secrets.backend)
        except BaseException:
            await secrets.close()
            raise
        return secrets

    return opened


async def _open_secrets(settings: Settings, shared: Mapping[str, ResourceReference]) -> OpenSecrets:
    memory = StoreFactory(settings).kind == "memory"
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
        MasterKeyError, ConfigError, SecretStoreError: As ``Application.start``; a
            ConfigError too when an ``[aws_credentials]`` key's secret cannot be read.
    """
    secrets = await _open_secrets(settings, config.resources)
    try:
        await check_aws_secrets(config.security.aws_credentials, secrets.backend)
    finally:
        await secrets.close()


async def check_access(settings: Settings, config: GatewayConfig) -> None:
    """Refuse to serve, on a listener other machines can reach, a surface that admits no
    anonymous caller and that no configured credential opens (tokens are read from the
    store).

    Raises:
        ConfigError: Such a surface; names it and what to add.
        RunStoreError: The credential store cannot be opened.
    """
    store = credential_store(settings)
    await store.open()
    try:
        tokens = await store.list(CredentialKind.TOKEN)
    finally:
        await store.close()
    check_exposure(
        served_surfaces(
            settings.host,
            listen_address(settings.admin_listen)[0] if settings.admin_listen else None,
        ),
        config.security.auth,
        token_scopes=[token.scopes for token in tokens],
        admin_token=settings.admin_token is not None,
        jwt_authorizer=config.security.auth.authorizer is not None,
        # A key that may call no function opens nothing.
        aws_credentials=any(c.allow_functions for c in config.security.aws_credentials),
    )


async def check_run_store(settings: Settings) -> None:
    """Open and close the run store ``settings`` name (applying its migrations), so that a
    server fails to start with one clear message, not a traceback, when it cannot.

    Raises:
        RunStoreError: The store cannot be opened; the message says why (no password).
    """
    store = StoreFactory(settings).runs()
    await store.open()
    await store.close()


def credential_store(settings: Settings) -> ICredentialStore:
    """Tokens and API keys on the run store's database, in tables of their own."""
    return StoreFactory(settings).credentials()


def secret_store(settings: Settings) -> ISecretStore:
    """The secret store on the run store's database: the same SQLite file (its own tables)
    or the same PostgreSQL DSN and schema.

    Raises:
        ConfigError: The run store is ``memory://``: secrets stored there would vanish
            with the process.
    """
    return StoreFactory(settings).secrets()
