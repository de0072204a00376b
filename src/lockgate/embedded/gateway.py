"""``EnhancedDurableAPIGateway``: the gateway seed 002 is written around, made in one line.

    gateway = EnhancedDurableAPIGateway(
        resource_registry=ResourceRegistry(),
        secret_manager=SecretManager(),
        enable_durability=True,  # Enable checkpoint persistence
        title="Production Gateway",
        description="Enterprise workflow orchestration",
    )
    await gateway.secret_manager.store_secret("db_creds", {...})
    gateway.register_workflow("data_pipeline", workflow, required_resources=[...])
    response = await gateway.execute_workflow("data_pipeline", request)

It is ``build(settings)``'s ``Application`` with the seed's constructor: the seed never
starts its gateway, so the first call that needs it running starts it (once, however many
callers ask at the same time). ``async with`` starts and stops it explicitly; ``aclose()``
stops it. Runs are durable (the run store ``Settings()`` names, SQLite beside the program by
default) unless ``enable_durability=False`` keeps them in memory.

Requests made here carry no principal: they are the operator's own, so their inline
resources connect where their config says and may name any secret. The gateway's HTTP
surface (``create_app(gateway.application)``) keeps its strict defaults for its callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from lockgate.bootstrap import build
from lockgate.config.locations import store_kind
from lockgate.config.settings import Settings
from lockgate.embedded.secrets import SecretManager
from lockgate.errors import ConfigError
from lockgate.gateways.stores.secrets.env import EnvironmentSecrets
from lockgate.models.function import FunctionEntity
from lockgate.models.gateway_config import GatewayConfig
from lockgate.models.run import RunPage, RunStatus, WorkflowRequest, WorkflowResponse
from lockgate.models.workflow import Workflow
from lockgate.use_cases.resources.registry import ResourceRegistry
from lockgate.use_cases.resources.resolver import ResourceResolver
from lockgate.use_cases.secrets.setup import RevealingBackend, SecretBackend
from lockgate.use_cases.workflows.service import WorkflowService

__all__ = ["EnhancedDurableAPIGateway"]

ResolverFactory = Callable[[ResourceRegistry, SecretBackend | None], ResourceResolver]
"""Makes the gateway's resolver from its registry and secrets: a ``ResourceResolver``
subclass itself (``resource_resolver=CustomResourceResolver``)."""


class EnhancedDurableAPIGateway:
    """A gateway for durable workflows with resources and secrets, embedded in a program.

    Args:
        resource_registry: The registry to resolve resources with (one the caller made and
            registered shared resources on); a new one by default. Its inline references
            are accepted from this process whatever its ``allow_inline`` (they are the
            operator's); HTTP callers stay under the settings' rules.
        secret_manager: Where credentials come from. By default a ``SecretManager`` on the
            run store's database and the configured master key, found at first use
            (``secrets = "env"`` in the settings: the environment; ``"off"``: none).
        enable_durability: True keeps runs in the settings' run store (SQLite beside the
            program unless ``LOCKGATE_RUN_STORE`` says otherwise) and refuses a
            ``memory://`` one; False keeps them in memory. By default, the settings say.
        title: The gateway's name in its OpenAPI document and ``health()``.
        description: Its description there.
        settings: Gateway-wide settings; ``Settings()`` (the environment) by default.
        config: Functions, routes, workflows and shared resources to serve.
        modules: Modules declared as seed 003's dict (``build``'s ``modules``).
        resource_resolver: A ``ResourceResolver`` subclass (or a factory taking the
            registry and the secrets) that makes every resource, e.g. seed 002's
            ``CustomResourceResolver``.

    Raises:
        ConfigError: ``enable_durability=True`` with a ``memory://`` run store, or what
            ``build`` raises for ``config`` and ``modules``.
    """

    def __init__(
        self,
        *,
        resource_registry: ResourceRegistry | None = None,
        secret_manager: SecretBackend | None = None,
        enable_durability: bool | None = None,
        title: str = "Lockgate",
        description: str = "",
        settings: Settings | None = None,
        config: GatewayConfig | None = None,
        modules: Mapping[str, Mapping[str, Any]] | None = None,
        resource_resolver: ResolverFactory | None = None,
    ) -> None:
        settings = _durability(settings or Settings(), enable_durability)
        secrets = secret_manager if secret_manager is not None else _default_secrets(settings)
        if isinstance(secrets, SecretManager):
            secrets.use_settings(settings)  # its store is this gateway's database
        self._made_secrets = secret_manager is None
        self.application = build(
            settings,
            config,
            secret_manager=secrets,
            resource_registry=resource_registry,
            modules=modules,
        )
        self.application.title = title
        self.application.description = description
        self._secrets = secrets
        self._starting: asyncio.Lock | None = None
        if resource_resolver is not None:
            self.use_resolver(resource_resolver(self.resource_registry, secrets))

    def __repr__(self) -> str:
        state = "started" if self.started else "not started"
        return f"EnhancedDurableAPIGateway(title={self.title!r}, {state})"

    # -- what the seed reads ---------------------------------------------------------------

    @property
    def title(self) -> str:
        return self.application.title

    @property
    def description(self) -> str:
        return self.application.description

    @property
    def settings(self) -> Settings:
        return self.application.settings

    @property
    def started(self) -> bool:
        return self.application.started

    @property
    def secret_manager(self) -> SecretBackend | None:
        """The secrets, usable before the gateway starts (a ``SecretManager`` opens itself
        at first use)."""
        return self._secrets

    @property
    def resource_registry(self) -> ResourceRegistry:
        return self.application.resources

    @property
    def resources(self) -> ResourceRegistry:
        return self.application.resources

    @property
    def workflows(self) -> WorkflowService:
        """The registered workflows, by id: ``gateway.workflows["pipeline"].metadata``."""
        return self.application.workflows

    @property
    def _resource_resolver(self) -> ResourceResolver:
        """The resolver every resource is made by (the seed's tests patch its ``resolve``)."""
        return self.application.resources.resolver

    def use_resolver(self, resolver: ResourceResolver) -> None:
        """Make every resource with ``resolver`` (see ``ResourceRegistry.use_resolver``)."""
        self.application.resources.use_resolver(resolver)

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the gateway, once: later calls (and concurrent ones) wait for the first.

        Raises:
            MasterKeyError, RunStoreError, SecretStoreError, ConfigError: As
                ``Application.start``; nothing stays started, and the next call tries again.
        """
        if self.application.started:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if not self.application.started:
                await self.application.start()

    async def aclose(self) -> None:
        """Stop the gateway (runs in flight get ``shutdown_grace``), and close the secrets
        it opened itself. A closed gateway starts again on its next use."""
        try:
            if self.application.started:
                await self.application.stop()
        finally:
            if self._made_secrets and isinstance(self._secrets, SecretManager):
                await self._secrets.aclose()

    stop = aclose

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the seed's gateway API ------------------------------------------------------------

    def register_workflow(
        self,
        workflow_id: str,
        workflow: Workflow,
        required_resources: Iterable[str] = (),
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Make ``workflow`` runnable as ``workflow_id`` (before or after the start).

        Raises:
            WorkflowAlreadyRegisteredError: ``workflow_id`` is taken.
            WorkflowDefinitionError: ``workflow`` is not a built workflow, or a function
                step names an undeclared function.
        """
        self.application.register_workflow(
            workflow_id, workflow, required_resources, description, metadata
        )

    def register_function(self, function: FunctionEntity) -> None:
        """Add or change a function (see ``Application.register_function``)."""
        self.application.register_function(function)

    async def execute_workflow(
        self, workflow_id: str, request: WorkflowRequest | None = None, *, wait: bool = True
    ) -> WorkflowResponse:
        """Run a workflow (starting the gateway first if need be); a failed run is a
        response whose status is ``failed``, naming the step and why.

        Raises:
            WorkflowNotFoundError, InvalidParametersError, ResourceConfigError,
            ResourceNotFoundError, IdempotencyConflictError: As
                ``WorkflowService.execute_workflow``, before anything runs.
        """
        await self.start()
        return await self.application.execute_workflow(workflow_id, request, wait=wait)

    async def get_run(self, run_id: str) -> WorkflowResponse:
        await self.start()
        return await self.application.get_run(run_id)

    async def list_runs(
        self,
        *,
        workflow_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        await self.start()
        return await self.application.list_runs(
            workflow_id=workflow_id, status=status, limit=limit, cursor=cursor
        )

    async def cancel_run(self, run_id: str) -> WorkflowResponse:
        await self.start()
        return await self.application.cancel_run(run_id)

    def health(self) -> dict[str, Any]:
        """Functions and workflows, without I/O (``health_check`` adds resources)."""
        return self.application.health()

    async def health_check(self) -> dict[str, Any]:
        """The seed's ``gateway.health_check()``: ``status``, and each shared resource
        probed (see ``Application.health_check``)."""
        await self.start()
        return await self.application.health_check()


def _durability(settings: Settings, enable: bool | None) -> Settings:
    """``settings`` with the run store ``enable_durability`` asks for.

    Raises:
        ConfigError: Durability asked for on a ``memory://`` run store.
    """
    if enable is False:
        return settings.model_copy(update={"run_store": "memory://"})
    if enable and store_kind(settings) == "memory":
        raise ConfigError(
            "enable_durability=True, but the run store is memory://: set run_store to a "
            "sqlite:/// or postgresql:// URL, or pass enable_durability=False",
            key="run_store",
        )
    return settings


def _default_secrets(settings: Settings) -> SecretBackend | None:
    """The backend ``settings.secrets`` chooses, usable before the gateway starts."""
    if settings.secrets == "off":
        return None
    if settings.secrets == "env":
        return RevealingBackend(EnvironmentSecrets())
    return SecretManager(cache_ttl=settings.secret_cache_ttl, settings=settings)
