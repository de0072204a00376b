"""``ResourceRegistry``: resolves what a run's steps ask for with ``await get_resource(name)``.

Two kinds of resource:

- **Shared** ones the operator registers (``register``, ``register_factory``,
  ``register_reference``, or ``[resources.NAME]`` in ``lockgate.toml``). A run names them
  ``"@name"``; a step may also ask for one by its own name when its run does not name it.
- **Inline** ``ResourceReference``s a request carries. Equal references (type, config,
  credentials) share one pooled instance, created once however many runs ask at the same
  time, so 1,000 runs on one database reference hold at most its ``max_size`` connections.
  A caller's later requests may name one it declared as ``"@name"`` (``DeclaredResources``:
  its own, never another caller's; an operator's shared name always wins).

Who asks decides what an inline reference may do. Requests made in-process through the
Python API (``trusted``) are the operator's own: their references connect where their config
says, as shared resources do, and may name any secret. A caller over HTTP chose where its
reference connects, so it is refused unless ``allow_inline``, may name only the secrets
``inline_credentials`` lists, and is created through the ``egress`` guard
(``inline_allowed_hosts``), which refuses loopback, private, link-local and the gateway's
own addresses unless listed; a type whose resolver cannot apply the guard is refused unless
registered with ``inline=True``. The operator's pools and the callers' are kept apart.

Every instance is made by ``resolver.resolve`` (``ResourceResolver``, the one path;
``use_resolver`` installs a subclass). Credentials are read from the secrets when an
instance is created, never stored here. An instance no run has used for ``idle_ttl``
seconds is closed by ``sweep``; ``close`` closes all. What happens is logged at DEBUG on
``lockgate.resources``: names, types and secrets' names, never a config value.

The registry is two parts and the glue between them: the **catalog**
(``catalog.ResourceCatalog``: resolvers, shared names, the callers' declarations, the checks)
decides what a name means and makes a ``ResourceSlot`` for it; the **instance pools**
(``instances.InstancePools``) open, share, probe, sweep and close what the slots hold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.gateways.interfaces import IEgressGuard, IResourceResolver
from lockgate.models.resource import ResourceReference, parse_resource
from lockgate.use_cases.resources.catalog import ResourceCatalog, pool_key
from lockgate.use_cases.resources.instances import HealthCheck, InstancePools, ResourceSlot
from lockgate.use_cases.resources.resolver import ResolverFunction, ResourceResolver, SecretReader

__all__ = ["ResourceRegistry", "RunResources", "SecretReader"]

logger = logging.getLogger("lockgate.resources")

_OPERATOR = b"operator\x00"  # prefixes the pool keys of trusted (in-process) references


@dataclass(eq=False)
class RunResources:
    """``get_resource`` for one run: what it resolves stays with it; ``release`` (when the
    run stops) tells the registry the run no longer holds its instances. ``trusted``: the
    run was started in-process (its inline references are the operator's own)."""

    registry: ResourceRegistry
    references: Mapping[str, Any]
    trusted: bool = False
    _resolved: dict[str, Any] = field(default_factory=dict)
    _held: list[ResourceSlot] = field(default_factory=list)

    async def __call__(self, name: str) -> Any:
        if name in self._resolved:
            return self._resolved[name]
        entry = self.registry.entry_for(name, self.references, trusted=self.trusted)
        held = entry in self._held
        if not held:  # counted before waiting: eviction and sweeps leave it alone meanwhile
            entry.users += 1
        try:
            resource = await self.registry.instance(name, entry)
        except BaseException:
            if not held:
                entry.users -= 1
            raise
        if not held:
            self._held.append(entry)
        self._resolved[name] = resource
        return resource

    def secret_strings(self) -> tuple[str, ...]:
        """The strings (8 characters or longer: ``redaction.MIN_SECRET_LENGTH``) of the
        credentials behind the resources this run holds, to hide from what its steps
        return and raise."""
        return tuple(
            dict.fromkeys(v for entry in self._held for v in entry.secret_values if len(v) >= 8)
        )

    def release(self) -> None:
        now = self.registry.clock()
        for entry in self._held:
            entry.users -= 1
            entry.last_used = now
        self._held.clear()
        self._resolved.clear()


class ResourceRegistry:
    """Shared resources by name, resolvers by type, and the instances of both.

    Args:
        secrets: Reads ``credentials_ref`` secrets; without it a reference that names
            credentials fails, saying that no secrets are configured.
        idle_ttl: Seconds an inline instance may sit unused before ``sweep`` closes it.
        health_timeout: Seconds one resource's health check may take.
        max_inline: Distinct inline references kept at once. Past it the least recently
            used one no run holds is closed to make room; when every one is held, the new
            one is refused (``ResourceUnavailableError``), so requests naming ever-new
            references cannot open connections without bound.
        allow_inline: True accepts inline references; by default runs may name shared
            resources (``"@name"``) only, so callers cannot make the gateway connect where
            they like.
        egress: Where inline resources may connect; inline references of the built-in
            types are refused without it (``bootstrap.build`` sets it from the settings).
        inline_credentials: The secrets an inline reference may name in its
            ``credentials_ref`` (``"*"``: any). Whoever can start a run chooses where an
            inline resource connects, so a secret listed here can be sent to a host of the
            caller's choosing; by default none is, and credentials go with shared resources.
        clock: Monotonic seconds.

    Attributes:
        catalog: What a name means and which references are accepted (``ResourceCatalog``).
        pools: The instances opened for them, until swept or closed (``InstancePools``).
    """

    def __init__(
        self,
        *,
        secrets: SecretReader | None = None,
        idle_ttl: float = 300.0,
        health_timeout: float = 5.0,
        max_inline: int = 100,
        allow_inline: bool = False,
        egress: IEgressGuard | None = None,
        inline_credentials: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secrets = secrets
        self.catalog = ResourceCatalog(
            allow_inline=allow_inline, egress=egress, inline_credentials=inline_credentials
        )
        self.pools = InstancePools(
            idle_ttl=idle_ttl, health_timeout=health_timeout, max_inline=max_inline, clock=clock
        )
        self.catalog.resolver = ResourceResolver(self)

    @property
    def resolver(self) -> ResourceResolver:
        """What makes every instance (``use_resolver`` installs another)."""
        return self.catalog.resolver

    @resolver.setter
    def resolver(self, resolver: ResourceResolver) -> None:
        self.catalog.resolver = resolver

    @property
    def egress(self) -> IEgressGuard | None:
        """Where the callers' inline resources may connect."""
        return self.catalog.egress

    @egress.setter
    def egress(self, egress: IEgressGuard | None) -> None:
        self.catalog.egress = egress

    @property
    def clock(self) -> Callable[[], float]:
        """Monotonic seconds."""
        return self.pools.clock

    @property
    def idle_ttl(self) -> float:
        """Seconds an inline instance may sit unused before ``sweep`` closes it."""
        return self.pools.idle_ttl

    @idle_ttl.setter
    def idle_ttl(self, seconds: float) -> None:
        self.pools.idle_ttl = seconds

    # -- registration (the catalog) --------------------------------------------------------

    def register_resolver(
        self,
        type_name: str,
        resolver: IResourceResolver | ResolverFunction,
        *,
        inline: bool = False,
    ) -> None:
        """Resolve references of type ``type_name`` with ``resolver``: an
        ``IResourceResolver`` or, as the seed's ``CustomResourceResolver`` writes one, a
        coroutine function ``(config, credentials) -> resource``.

        Args:
            inline: Let inline references of this type be created with ``create`` although
                the resolver is no ``IInlineResourceResolver``: it cannot apply the egress
                policy, so pass True only for a resolver that opens no connection a caller
                could aim (an in-memory object). Not needed for an
                ``IInlineResourceResolver``.
        """
        self.catalog.register_resolver(type_name, resolver, inline=inline)

    def resolver_types(self) -> list[str]:
        """The reference types this registry resolves."""
        return self.catalog.resolver_types()

    def resolver_for(self, type_name: str) -> IResourceResolver | None:
        """The resolver registered for ``type_name`` (None: unknown)."""
        return self.catalog.resolver_for(type_name)

    def resolver_functions(self) -> dict[str, ResolverFunction]:
        """Type name → the function that makes it: each resolver's ``create``."""
        return self.catalog.resolver_functions()

    def connects_nowhere(self, type_name: str) -> bool:
        """True for a type registered with ``inline=True``: its resources open no
        connection a caller could aim, so no egress policy applies to them."""
        return self.catalog.connects_nowhere(type_name)

    def use_resolver(self, resolver: ResourceResolver) -> None:
        """Make every resource with ``resolver`` from now on (a ``ResourceResolver``
        subclass with types of its own, as seed 002's ``CustomResourceResolver``).

        A type it makes with a function of its own (not a registered resolver's ``create``)
        is registered here as that function: no config check, health from its ``ping()``,
        closed with ``aclose()``/``close()``, and refused inline from callers over HTTP
        (it cannot apply the egress policy). The types it does not name keep their
        registered resolvers.
        """
        self.catalog.use_resolver(resolver)

    def register(
        self, name: str, resource: Any, *, health_check: HealthCheck | None = None
    ) -> None:
        """Share a ready object as ``name``. The caller owns it: it is not closed here."""
        self.catalog.register(name, resource, health_check)

    def register_factory(
        self, name: str, factory: Any, *, health_check: HealthCheck | None = None
    ) -> None:
        """Share what ``factory`` makes as ``name``: created on first use (or the first
        health check), kept until shutdown, then closed (``aclose()``/``close()``).

        Args:
            factory: A callable (sync or async) returning the resource, or an object with a
                ``create()`` method (sync or async), like the seed's ``DatabasePoolFactory``.
            health_check: ``async (resource) -> bool``; False or an exception is unhealthy.
        """
        self.catalog.register_factory(name, factory, health_check)

    def register_reference(self, name: str, reference: ResourceReference) -> None:
        """Share the resource ``reference`` describes as ``name`` (``[resources.NAME]``).

        Raises:
            ResourceConfigError: Its type is unknown or its config invalid (checked now,
                without I/O).
        """
        self.catalog.register_reference(name, reference)

    def check_shared(self, references: Mapping[str, ResourceReference]) -> None:
        """Check references about to be registered as shared, without I/O or registering.

        Raises:
            ResourceConfigError: A type is unknown or a config invalid; names the resource.
        """
        self.catalog.check_shared(references)

    def shared_names(self) -> list[str]:
        """The names of the shared resources, sorted."""
        return self.catalog.shared_names()

    # -- requests and runs -----------------------------------------------------------------

    def unavailable(self, references: Mapping[str, Any], required: Iterable[str]) -> list[str]:
        """The names in ``required`` that neither the run's references nor the shared
        resources supply."""
        return self.catalog.unavailable(references, required)

    def checked_request(
        self,
        resources: Mapping[str, Any],
        *,
        principal: str | None = None,
        trusted: bool = False,
    ) -> dict[str, Any]:
        """A request's ``resources`` checked without I/O and in their JSON form.

        ``"@name"`` is an operator's shared resource, else an inline reference the same
        caller declared as ``name`` earlier: its reference is recorded in the run in its
        place. The inline references of this request are remembered for the caller's
        later ones.

        Args:
            principal: Who asks (a token's name, ``jwt:<sub>``); None in-process.
            trusted: The request was made in-process through the Python API: its inline
                references are the operator's (no ``allow_inline``, ``inline_credentials``
                nor egress policy applies to them).

        Raises:
            ResourceConfigError: An entry is malformed, its type unknown or its config
                invalid, or (not ``trusted``) it may not be passed inline; the message
                names the entry.
            ResourceNotFoundError: An ``"@name"`` is neither shared nor the caller's own.
        """
        return self.catalog.checked_request(resources, principal=principal, trusted=trusted)

    def lookup(self, references: Mapping[str, Any], *, trusted: bool = False) -> RunResources:
        """``get_resource`` for a run carrying ``references`` (their JSON form);
        ``trusted``: the run was started in-process (see ``checked_request``)."""
        return RunResources(self, references, trusted)

    def entry_for(
        self, name: str, references: Mapping[str, Any], *, trusted: bool = False
    ) -> ResourceSlot:
        """The instance slot ``name`` resolves to for a run carrying ``references``: a
        shared one from the catalog, or the pooled one of an equal inline reference (made
        and pooled now if there is none).

        Raises:
            ResourceNotFoundError: The run does not name it and no shared one has the name,
                or it names an unregistered ``"@name"``.
            ResourceConfigError: Its reference is malformed or of an unknown type.
            ResourceUnavailableError: It is new, and every inline slot is in use.
        """
        value = references.get(name)
        if value is None:
            return self.catalog.shared_slot(name)
        spec = parse_resource(name, value)
        if isinstance(spec, str):
            return self.catalog.named_slot(name, spec)
        # The operator's pools and the callers' never mix: an HTTP caller's equal reference
        # must not get an instance made without the egress policy.
        key = (_OPERATOR if trusted else b"") + pool_key(name, spec)
        slot = self.pools.pooled(key)
        if slot is None:
            slot = self.catalog.inline_slot(name, spec, key, trusted=trusted)
            self.pools.add(name, slot)
            logger.debug(
                "resource %r: a new %s pool %s (%s)",
                name,
                spec.type,
                slot.label,
                "in-process" if trusted else "a caller's inline reference",
            )
        return slot

    async def instance(self, name: str, entry: ResourceSlot) -> Any:
        """``entry``'s instance, created once however many callers ask at the same time;
        a failed creation is not kept, so the next caller tries again.

        Raises:
            ResourceUnavailableError: Creating it failed (``ResourceTimeoutError`` past its
                connect timeout); the message names ``name`` and never a credential.
            ResourceConfigError, SecretNotFoundError: Its config or credentials are wrong.
        """
        return await self.pools.instance(name, entry)

    # -- health and lifecycle (the pools) --------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Every shared resource, probed (and created now if no run has used it yet):
        ``{name: {"status": "healthy"|"unhealthy", "type", "in_use", "error"?}}``.

        Inline instances are not probed (their targets are the callers' choice) nor named
        (another tenant's references are none of this caller's business); ``inline()``
        counts them.
        """
        return await self.pools.health(self.catalog.shared_slots())

    def inline(self) -> dict[str, dict[str, int]]:
        """Live inline instances by type, and the runs holding them:
        ``{"database": {"pools": 2, "runs": 7}}``."""
        return self.pools.inline()

    async def sweep(self) -> int:
        """Close inline instances no run holds and none has used for ``idle_ttl`` seconds.

        Returns:
            How many were closed.
        """
        return await self.pools.sweep()

    async def run_sweeps(self) -> None:
        """Sweep every quarter of ``idle_ttl`` (at most every 30 s) until cancelled."""
        await self.pools.run_sweeps()

    def open(self, secrets: SecretReader | None) -> None:
        """Serve requests again (after ``close``), reading credentials from ``secrets``."""
        self.secrets = secrets
        self.pools.open()

    async def close(self) -> None:
        """Close every instance created here (not the ready objects ``register`` was given);
        later requests for a resource fail, saying the gateway is shutting down."""
        self.secrets = None
        await self.pools.close(self.catalog.shared_slots())
