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
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import (
    ConfigError,
    LockgateError,
    ResourceConfigError,
    ResourceNotFoundError,
    ResourceTimeoutError,
    ResourceUnavailableError,
    SecretNotFoundError,
)
from lockgate.gateways.interfaces import (
    IEgressGuard,
    IInlineResourceResolver,
    IResourceResolver,
)
from lockgate.models.resource import RESOURCE_NAME, ResourceReference, parse_resource
from lockgate.use_cases.resources.declared import DeclaredResources
from lockgate.use_cases.resources.resolver import ResolverFunction, ResourceResolver, SecretReader

__all__ = ["ResourceRegistry", "RunResources", "SecretReader"]

logger = logging.getLogger("lockgate.resources")

HealthCheck = Callable[[Any], Awaitable[Any]]
_OPERATOR = b"operator\x00"  # prefixes the pool keys of trusted (in-process) references


class _FunctionResolver:
    """A resolver function wrapped as an ``IResourceResolver``: health is the resource's
    own ``ping()`` when it has one, closing its ``aclose()``/``close()``."""

    def __init__(self, create: ResolverFunction) -> None:
        self._create = create

    # A resolver function checks its own config when it is called.
    def validate(self, config: Mapping[str, Any]) -> None:  # noqa: ARG002
        return None

    async def create(self, config: Mapping[str, Any], credentials: Any) -> Any:
        return await self._create(config, credentials)

    async def health_check(self, resource: Any) -> None:
        ping = getattr(resource, "ping", None)
        if callable(ping):
            healthy = await _maybe_await(ping())
            if healthy is False:
                raise ResourceUnavailableError("its ping() returned False")

    async def close(self, resource: Any) -> None:
        await _close_object(resource)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _close_object(resource: Any) -> None:
    for method in ("aclose", "close"):
        closer = getattr(resource, method, None)
        if callable(closer):
            await _maybe_await(closer())
            return


_NOT_SECRET = frozenset({"user", "username"})


def _secret_strings(value: Any) -> tuple[str, ...]:
    """Every string in a credentials value long enough to be worth scrubbing from messages."""
    if isinstance(value, str):
        return (value,) if len(value) >= 4 else ()
    if isinstance(value, Mapping):  # a user name is an identifier an error may show
        return tuple(
            s for k, v in value.items() if k not in _NOT_SECRET for s in _secret_strings(v)
        )
    if isinstance(value, list | tuple):
        return tuple(s for v in value for s in _secret_strings(v))
    return ()


@dataclass(eq=False)
class _Entry:
    """One resource instance, shared or pooled inline, created at most once at a time."""

    label: str
    type_name: str
    shared: bool
    resolver: IResourceResolver | None
    create: Callable[[], Awaitable[Any]] | None
    health_check: HealthCheck | None = None
    owned: bool = True
    instance: Any = None
    created: bool = False
    creating: asyncio.Future[Any] | None = None
    users: int = 0
    last_used: float = 0.0
    secret_values: tuple[str, ...] = ()
    key: bytes | None = None  # an inline entry's pool key

    def scrub(self, text: str) -> str:
        for value in self.secret_values:
            text = text.replace(value, "***")
        return text


@dataclass(eq=False)
class RunResources:
    """``get_resource`` for one run: what it resolves stays with it; ``release`` (when the
    run stops) tells the registry the run no longer holds its instances. ``trusted``: the
    run was started in-process (its inline references are the operator's own)."""

    registry: ResourceRegistry
    references: Mapping[str, Any]
    trusted: bool = False
    _resolved: dict[str, Any] = field(default_factory=dict)
    _held: list[_Entry] = field(default_factory=list)

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
        self.clock = clock
        self.idle_ttl = idle_ttl
        self._health_timeout = health_timeout
        self._max_inline = max_inline
        self._allow_inline = allow_inline
        self.egress = egress
        self._inline_credentials = frozenset(inline_credentials)
        self._unguarded_inline: set[str] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._resolvers: dict[str, IResourceResolver] = {}
        self._shared: dict[str, _Entry] = {}
        self._pooled: dict[bytes, _Entry] = {}
        self._declared = DeclaredResources()
        self._closed = False
        self.resolver = ResourceResolver(self)

    # -- registration ----------------------------------------------------------------------

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
        if not isinstance(resolver, IResourceResolver):
            resolver = _FunctionResolver(resolver)
        self._resolvers[type_name] = resolver
        self.resolver.register(type_name, resolver.create)
        if inline:
            self._unguarded_inline.add(type_name)
        else:
            self._unguarded_inline.discard(type_name)

    def resolver_types(self) -> list[str]:
        """The reference types this registry resolves."""
        return sorted(set(self._resolvers) | set(self.resolver.types()))

    def resolver_for(self, type_name: str) -> IResourceResolver | None:
        """The resolver registered for ``type_name`` (None: unknown)."""
        return self._resolvers.get(type_name)

    def resolver_functions(self) -> dict[str, ResolverFunction]:
        """Type name → the function that makes it: each resolver's ``create``."""
        return {type_name: r.create for type_name, r in self._resolvers.items()}

    def connects_nowhere(self, type_name: str) -> bool:
        """True for a type registered with ``inline=True``: its resources open no
        connection a caller could aim, so no egress policy applies to them."""
        return type_name in self._unguarded_inline

    def use_resolver(self, resolver: ResourceResolver) -> None:
        """Make every resource with ``resolver`` from now on (a ``ResourceResolver``
        subclass with types of its own, as seed 002's ``CustomResourceResolver``).

        A type it makes with a function of its own (not a registered resolver's ``create``)
        is registered here as that function: no config check, health from its ``ping()``,
        closed with ``aclose()``/``close()``, and refused inline from callers over HTTP
        (it cannot apply the egress policy). The types it does not name keep their
        registered resolvers.
        """
        for type_name, registered in self._resolvers.items():
            if type_name not in resolver.types():
                resolver.register(type_name, registered.create)
        for type_name, make in resolver.types().items():
            known = self._resolvers.get(type_name)
            if known is None or make != known.create:
                self._resolvers[type_name] = _FunctionResolver(make)
                self._unguarded_inline.discard(type_name)
        self.resolver = resolver
        logger.debug("resources are made by %r", resolver)

    def register(
        self, name: str, resource: Any, *, health_check: HealthCheck | None = None
    ) -> None:
        """Share a ready object as ``name``. The caller owns it: it is not closed here."""
        entry = self._add_shared(name, type(resource).__name__, None, None, health_check)
        entry.instance, entry.created, entry.owned = resource, True, False

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
        make = getattr(factory, "create", factory)
        if not callable(make):
            raise ConfigError(
                f"shared resource {name!r}: the factory must be callable or have create()",
                key=name,
            )

        async def create() -> Any:
            return await _maybe_await(make())

        self._add_shared(name, "factory", None, create, health_check)

    def register_reference(self, name: str, reference: ResourceReference) -> None:
        """Share the resource ``reference`` describes as ``name`` (``[resources.NAME]``).

        Raises:
            ResourceConfigError: Its type is unknown or its config invalid (checked now,
                without I/O).
        """
        resolver = self._checked_resolver(name, reference)
        entry = self._add_shared(name, reference.type, resolver, None, None)
        entry.create = self._creator(entry, reference)

    def _add_shared(
        self,
        name: str,
        type_name: str,
        resolver: IResourceResolver | None,
        create: Callable[[], Awaitable[Any]] | None,
        health_check: HealthCheck | None,
    ) -> _Entry:
        if not isinstance(name, str) or not RESOURCE_NAME.fullmatch(name):
            raise ConfigError(
                f"shared resource name {name!r} is invalid: expected a letter or _ followed "
                "by letters, digits or _ . -",
                key="resources",
            )
        if name in self._shared:
            raise ConfigError(f"shared resource {name!r} is already registered", key=name)
        entry = _Entry(name, type_name, True, resolver, create, health_check)
        self._shared[name] = entry
        return entry

    def check_shared(self, references: Mapping[str, ResourceReference]) -> None:
        """Check references about to be registered as shared, without I/O or registering.

        Raises:
            ResourceConfigError: A type is unknown or a config invalid; names the resource.
        """
        for name, reference in references.items():
            self._checked_resolver(name, reference)
            _pool_key(name, reference)

    def shared_names(self) -> list[str]:
        return sorted(self._shared)

    # -- requests and runs -----------------------------------------------------------------

    def unavailable(self, references: Mapping[str, Any], required: Iterable[str]) -> list[str]:
        """The names in ``required`` that neither the run's references nor the shared
        resources supply."""
        return [
            name
            for name in dict.fromkeys(required)
            if name not in references and name not in self._shared
        ]

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
        if not isinstance(resources, Mapping):
            raise ResourceConfigError(
                f"resources must be an object of name to reference, got {type(resources).__name__}",
                key="resources",
            )
        owner = _owner(principal, trusted)
        checked: dict[str, Any] = {}
        declared: dict[str, ResourceReference] = {}
        for name, value in resources.items():
            spec = parse_resource(name, value)
            if isinstance(spec, str):
                if spec[1:] in self._shared:
                    checked[name] = spec
                    continue
                spec = self._declared_reference(name, spec, owner)
            else:
                declared[name] = spec
            self._checked_for(name, spec, trusted=trusted)
            _pool_key(name, spec)  # refuses non-JSON config values now
            checked[name] = spec.to_dict()
        if owner is not None:
            self._declared.remember(owner, declared)
        return checked

    def _declared_reference(self, name: str, spec: str, owner: str | None) -> ResourceReference:
        """What ``owner`` declared inline as ``spec``'s name.

        Raises:
            ResourceNotFoundError: Nothing; the message lists the shared names only.
        """
        reference = self._declared.find(owner, spec[1:]) if owner is not None else None
        if reference is None:
            self._shared_entry(name, spec)  # raises, naming the shared resources alone
            raise AssertionError("unreachable: the name is not shared")
        logger.debug("resource %r: %r is the caller's own earlier inline reference", name, spec)
        return reference

    def lookup(self, references: Mapping[str, Any], *, trusted: bool = False) -> RunResources:
        """``get_resource`` for a run carrying ``references`` (their JSON form);
        ``trusted``: the run was started in-process (see ``checked_request``)."""
        return RunResources(self, references, trusted)

    def entry_for(
        self, name: str, references: Mapping[str, Any], *, trusted: bool = False
    ) -> _Entry:
        """The instance slot ``name`` resolves to for a run carrying ``references``.

        Raises:
            ResourceNotFoundError: The run does not name it and no shared one has the name,
                or it names an unregistered ``"@name"``.
            ResourceConfigError: Its reference is malformed or of an unknown type.
        """
        value = references.get(name)
        if value is None:
            entry = self._shared.get(name)
            if entry is None:
                raise ResourceNotFoundError(
                    f"Resource {name!r} was not given to this run and no shared resource has "
                    "that name",
                    name=name,
                )
            return entry
        spec = parse_resource(name, value)
        if isinstance(spec, str):
            return self._shared_entry(name, spec)
        # The operator's pools and the callers' never mix: an HTTP caller's equal reference
        # must not get an instance made without the egress policy.
        key = (_OPERATOR if trusted else b"") + _pool_key(name, spec)
        entry = self._pooled.get(key)
        if entry is None:
            resolver = self._checked_for(name, spec, trusted=trusted)
            if len(self._pooled) >= self._max_inline:
                self._evict_one(name)
            label = f"{spec.type}#{hashlib.sha256(key).hexdigest()[:10]}"
            entry = _Entry(label, spec.type, False, resolver, None, key=key)
            entry.create = self._creator(entry, spec, guarded=not trusted)
            self._pooled[key] = entry
            logger.debug(
                "resource %r: a new %s pool %s (%s)",
                name,
                spec.type,
                label,
                "in-process" if trusted else "a caller's inline reference",
            )
        return entry

    def _evict_one(self, name: str) -> None:
        """Make room for one more inline instance by closing the least recently used one
        that no run holds and none is creating.

        Raises:
            ResourceUnavailableError: Every inline instance is in use.
        """
        idle = [
            (entry.last_used, key)
            for key, entry in self._pooled.items()
            if entry.users == 0 and entry.creating is None
        ]
        if not idle:
            raise ResourceUnavailableError(
                f"Resource {name!r}: {len(self._pooled)} distinct inline resources are in use, "
                "the most this gateway keeps (max_inline_resources); reuse references or "
                "register shared ones",
                name=name,
            )
        self._detach(self._pooled.pop(min(idle)[1]))

    async def instance(self, name: str, entry: _Entry) -> Any:
        """``entry``'s instance, created once however many callers ask at the same time;
        a failed creation is not kept, so the next caller tries again.

        Raises:
            ResourceUnavailableError: Creating it failed (``ResourceTimeoutError`` past its
                connect timeout); the message names ``name`` and never a credential.
            ResourceConfigError, SecretNotFoundError: Its config or credentials are wrong.
        """
        if entry.created:
            entry.last_used = self.clock()
            return entry.instance
        if self._closed:
            raise ResourceUnavailableError(
                f"Resource {name!r}: the gateway is shutting down", name=name
            )
        if entry.creating is None:
            entry.creating = asyncio.ensure_future(self._build(entry))
            entry.creating.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(entry.creating)
        except LockgateError as exc:
            raise _named(name, entry, exc) from None

    def _shared_entry(self, name: str, spec: str) -> _Entry:
        entry = self._shared.get(spec[1:])
        if entry is None:
            known = ", ".join(self._shared) or "none"
            raise ResourceNotFoundError(
                f"Resource {name!r} refers to {spec!r}, which is not registered "
                f"(shared resources: {known})",
                name=name,
            )
        return entry

    def _checked_for(
        self, name: str, reference: ResourceReference, *, trusted: bool
    ) -> IResourceResolver:
        """The resolver of an inline reference, checked as its origin requires."""
        if trusted:
            return self._checked_resolver(name, reference)
        return self._checked_inline(name, reference)

    def _checked_inline(self, name: str, reference: ResourceReference) -> IResourceResolver:
        """``_checked_resolver``, and the reference's credentials may be used inline."""
        secret = reference.credentials_ref
        if not self._allow_inline:
            raise ResourceConfigError(
                f"Resource {name!r}: this gateway takes shared resources only ('@name'); "
                "inline references are off (allow_inline_resources)",
                key=name,
            )
        if secret is not None and not {secret, "*"} & self._inline_credentials:
            raise ResourceConfigError(
                f"Resource {name!r}: an inline reference may not name credentials_ref "
                f"{secret!r}: the caller would choose where they are sent. Register a shared "
                "resource with them, or list the secret in inline_credentials",
                key=name,
            )
        resolver = self._checked_resolver(name, reference)
        if isinstance(resolver, IInlineResourceResolver):
            if self.egress is None:
                raise ResourceConfigError(
                    f"Resource {name!r}: inline references need an egress policy, and this "
                    "registry has none (bootstrap.build gives it inline_allowed_hosts)",
                    key=name,
                )
            _checked(name, resolver.validate_inline, reference.config)
        elif reference.type not in self._unguarded_inline:
            raise ResourceConfigError(
                f"Resource {name!r}: type {reference.type!r} cannot be passed inline: its "
                "resolver does not apply the egress policy (inline_allowed_hosts), so the "
                "caller would choose where it connects. Register a shared resource and name "
                "it '@name', or register the resolver with inline=True if it connects nowhere",
                key=name,
            )
        return resolver

    def _checked_resolver(self, name: str, reference: ResourceReference) -> IResourceResolver:
        resolver = self._resolvers.get(reference.type)
        made = self.resolver.types().get(reference.type)
        if resolver is None and made is not None:  # a type the resolver's table gained since
            resolver = self._resolvers[reference.type] = _FunctionResolver(made)
        if resolver is None:
            raise ResourceConfigError(
                f"Resource {name!r}: unknown resource type {reference.type!r} "
                f"(known: {', '.join(sorted(self._resolvers)) or 'none'})",
                key=name,
            )
        _checked(name, resolver.validate, reference.config)
        return resolver

    def _creator(
        self, entry: _Entry, reference: ResourceReference, *, guarded: bool = False
    ) -> Callable[[], Awaitable[Any]]:
        """How ``entry``'s instance is made: through ``self.resolver`` (looked up when it
        is made, so an installed or patched resolver is used), with ``guarded`` callers'
        references connecting through the egress policy."""

        async def create() -> Any:
            credentials = await self.resolver.credentials(reference)
            if credentials is not None:
                entry.secret_values = _secret_strings(credentials)
            if guarded and self.egress is None and reference.type not in self._unguarded_inline:
                raise ResourceConfigError(
                    "inline references need an egress policy, and this registry has none "
                    "(bootstrap.build gives it inline_allowed_hosts)",
                    key="type",
                )
            egress = self.egress if guarded else None
            return await self.resolver.resolve(reference, credentials=credentials, egress=egress)

        return create

    async def _build(self, entry: _Entry) -> Any:
        assert entry.create is not None  # only ready objects lack one
        try:
            instance = await entry.create()
        except LockgateError:
            self._forget(entry)
            raise
        except Exception as exc:  # a custom factory's own error, reported by type and text
            self._forget(entry)
            raise ResourceUnavailableError(entry.scrub(f"{type(exc).__name__}: {exc}")) from None
        finally:
            entry.creating = None
        if self._closed:  # shut down while it was being made
            await self._close_entry(entry, instance)
            raise ResourceUnavailableError("the gateway is shutting down")
        entry.instance, entry.created, entry.last_used = instance, True, self.clock()
        return instance

    def _forget(self, entry: _Entry) -> None:
        """Drop a failed inline entry: a bad reference must not hold a slot."""
        if entry.key is not None and self._pooled.get(entry.key) is entry:
            del self._pooled[entry.key]

    # -- health and lifecycle --------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Every shared resource, probed (and created now if no run has used it yet):
        ``{name: {"status": "healthy"|"unhealthy", "type", "in_use", "error"?}}``.

        Inline instances are not probed (their targets are the callers' choice) nor named
        (another tenant's references are none of this caller's business); ``inline()``
        counts them.
        """
        entries = list(self._shared.values())
        reports = await asyncio.gather(*(self._probe(entry) for entry in entries))
        return {entry.label: report for entry, report in zip(entries, reports, strict=True)}

    def inline(self) -> dict[str, dict[str, int]]:
        """Live inline instances by type, and the runs holding them:
        ``{"database": {"pools": 2, "runs": 7}}``."""
        counts: dict[str, dict[str, int]] = {}
        for entry in self._pooled.values():
            if entry.created:
                count = counts.setdefault(entry.type_name, {"pools": 0, "runs": 0})
                count["pools"] += 1
                count["runs"] += entry.users
        return counts

    async def _probe(self, entry: _Entry) -> dict[str, Any]:
        report: dict[str, Any] = {
            "status": "healthy",
            "type": entry.type_name,
            "in_use": entry.users,
        }
        try:
            async with asyncio.timeout(self._health_timeout):
                instance = await self.instance(entry.label, entry)
                if entry.health_check is not None:
                    if await _maybe_await(entry.health_check(instance)) is False:
                        raise ResourceUnavailableError("its health check returned False")
                elif entry.resolver is not None:
                    await entry.resolver.health_check(instance)
        except TimeoutError:
            report["status"] = "unhealthy"
            report["error"] = f"no answer within {self._health_timeout:g} s"
        except Exception as exc:  # any failure of a probe is what it reports
            report["status"] = "unhealthy"
            message = (
                exc.message if isinstance(exc, LockgateError) else f"{type(exc).__name__}: {exc}"
            )
            report["error"] = entry.scrub(message)
        return report

    async def sweep(self) -> int:
        """Close inline instances no run holds and none has used for ``idle_ttl`` seconds.

        Returns:
            How many were closed.
        """
        cutoff = self.clock() - self.idle_ttl
        idle = [
            key
            for key, entry in self._pooled.items()
            if entry.created and entry.users == 0 and entry.last_used <= cutoff
        ]
        # Detached all at once, before any await: a run cannot pick one up while another
        # is being closed.
        for key in idle:
            self._detach(self._pooled.pop(key))
        await self._closes_done()
        if idle:
            logger.info("closed %d idle resource(s)", len(idle))
        return len(idle)

    def _detach(self, entry: _Entry) -> None:
        """Take ``entry`` out of use and close its instance in a task of its own, which a
        cancelled sweep does not stop and ``close`` waits for."""
        if not entry.created:
            return
        entry.created = False
        task = asyncio.ensure_future(self._close_entry(entry, entry.instance))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _closes_done(self) -> None:
        if self._closing:
            await asyncio.shield(asyncio.gather(*self._closing))

    async def run_sweeps(self) -> None:
        """Sweep every quarter of ``idle_ttl`` (at most every 30 s) until cancelled."""
        interval = min(max(self.idle_ttl / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # one bad close must not end the sweeps
                logger.exception("sweeping idle resources failed")

    def open(self, secrets: SecretReader | None) -> None:
        """Serve requests again (after ``close``), reading credentials from ``secrets``."""
        self.secrets = secrets
        self._closed = False

    async def close(self) -> None:
        """Close every instance created here (not the ready objects ``register`` was given);
        later requests for a resource fail, saying the gateway is shutting down."""
        self._closed = True
        self.secrets = None
        entries = list(self._shared.values()) + list(self._pooled.values())
        self._pooled.clear()
        for entry in entries:
            if entry.owned:
                self._detach(entry)
        await self._closes_done()

    async def _close_entry(self, entry: _Entry, instance: Any) -> None:
        try:
            if entry.resolver is None:
                await _close_object(instance)
                return
            try:
                await entry.resolver.close(instance)
            except TypeError:  # not the type's own object: a patched or custom resolve's
                await _close_object(instance)
        except Exception as exc:  # closing is best effort; the rest must still close
            logger.warning("closing resource %s failed: %s", entry.label, entry.scrub(str(exc)))


def _checked(name: str, validate: Callable[[Mapping[str, Any]], None], config: Any) -> None:
    """``validate(config)``, its error prefixed with the resource's name."""
    try:
        validate(config)
    except ResourceConfigError as exc:
        raise ResourceConfigError(
            f"Resource {name!r}: {exc.message}", name=name, **exc.fields
        ) from None


def _pool_key(name: str, reference: ResourceReference) -> bytes:
    try:
        return reference.pool_key
    except ResourceConfigError as exc:
        raise ResourceConfigError(f"Resource {name!r}: {exc.message}", key=name) from None


def _owner(principal: str | None, trusted: bool) -> str | None:
    """Whose declarations a request's ``"@name"`` may find: the operator's (in-process),
    the principal's, or nobody's (an untrusted request without a principal)."""
    if trusted:
        return _OPERATOR_OWNER
    return principal


_OPERATOR_OWNER = "\x00operator"  # no principal's name: they are printable


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A creation whose callers were all cancelled must not log "exception never retrieved".
    if not future.cancelled():
        future.exception()


def _named(name: str, entry: _Entry, error: LockgateError) -> LockgateError:
    """``error`` again, prefixed with the resource's name and type and scrubbed of the
    credentials' values (a driver may quote what it was given)."""
    message = entry.scrub(f"Resource {name!r} ({entry.type_name}): {error.message}")
    fields = {**error.fields, "name": name}
    for kind in (SecretNotFoundError, ResourceConfigError, ResourceTimeoutError):
        if isinstance(error, kind):
            return kind(message, **fields)
    return ResourceUnavailableError(message, **fields)
