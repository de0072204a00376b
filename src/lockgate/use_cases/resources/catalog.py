"""``ResourceCatalog``: what a resource name may mean, and which references may be used.

The declarations, without I/O: the resolvers by type, the operator's shared resources by
name (each a ``ResourceSlot`` whose instance ``InstancePools`` opens), the inline references
each caller declared (``"@name"`` finds the caller's own, never another's), and the checks
an inline reference passes before anything is made from it: ``allow_inline``, the secrets
it may name (``inline_credentials``), and whether its type can apply the egress policy.
It also says how a slot's instance is made: through the ``ResourceResolver`` in use, with
the credentials read from the secrets when the instance is created, never kept here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from lockgate.errors import ConfigError, ResourceConfigError, ResourceNotFoundError
from lockgate.gateways.interfaces import IEgressGuard, IInlineResourceResolver, IResourceResolver
from lockgate.models.resource import RESOURCE_NAME, ResourceReference, parse_resource
from lockgate.use_cases.resources.declared import DeclaredResources
from lockgate.use_cases.resources.instances import HealthCheck, ResourceSlot, maybe_await
from lockgate.use_cases.resources.resolver import (
    FunctionResolver,
    ResolverFunction,
    ResourceResolver,
)

__all__ = ["ResourceCatalog", "pool_key"]

logger = logging.getLogger("lockgate.resources")

_OPERATOR_OWNER = "\x00operator"  # no principal's name: they are printable


class ResourceCatalog:
    """Resolvers by type, shared resources by name, the callers' declared references, and
    the checks a reference passes (``ResourceRegistry`` documents what they mean).

    Args:
        allow_inline: Callers over HTTP may pass inline references.
        egress: Where a caller's inline resource may connect.
        inline_credentials: The secrets a caller's inline reference may name (``"*"``: any).

    ``resolver`` is set by the registry before use: it is made for the registry.
    """

    resolver: ResourceResolver

    def __init__(
        self,
        *,
        allow_inline: bool = False,
        egress: IEgressGuard | None = None,
        inline_credentials: Iterable[str] = (),
    ) -> None:
        self.egress = egress
        self._allow_inline = allow_inline
        self._inline_credentials = frozenset(inline_credentials)
        self._unguarded_inline: set[str] = set()
        self._resolvers: dict[str, IResourceResolver] = {}
        self._shared: dict[str, ResourceSlot] = {}
        self._declared = DeclaredResources()

    # -- resolvers -------------------------------------------------------------------------

    def register_resolver(
        self, type_name: str, resolver: IResourceResolver | ResolverFunction, *, inline: bool
    ) -> None:
        if not isinstance(resolver, IResourceResolver):
            resolver = FunctionResolver(resolver)
        self._resolvers[type_name] = resolver
        self.resolver.register(type_name, resolver.create)
        if inline:
            self._unguarded_inline.add(type_name)
        else:
            self._unguarded_inline.discard(type_name)

    def resolver_types(self) -> list[str]:
        return sorted(set(self._resolvers) | set(self.resolver.types()))

    def resolver_for(self, type_name: str) -> IResourceResolver | None:
        return self._resolvers.get(type_name)

    def resolver_functions(self) -> dict[str, ResolverFunction]:
        return {type_name: r.create for type_name, r in self._resolvers.items()}

    def connects_nowhere(self, type_name: str) -> bool:
        return type_name in self._unguarded_inline

    def use_resolver(self, resolver: ResourceResolver) -> None:
        for type_name, registered in self._resolvers.items():
            if type_name not in resolver.types():
                resolver.register(type_name, registered.create)
        for type_name, make in resolver.types().items():
            known = self._resolvers.get(type_name)
            if known is None or make != known.create:
                self._resolvers[type_name] = FunctionResolver(make)
                self._unguarded_inline.discard(type_name)
        self.resolver = resolver
        logger.debug("resources are made by %r", resolver)

    # -- shared resources ------------------------------------------------------------------

    def register(self, name: str, resource: Any, health_check: HealthCheck | None) -> None:
        slot = self._add_shared(name, type(resource).__name__, None, None, health_check)
        slot.instance, slot.created, slot.owned = resource, True, False

    def register_factory(self, name: str, factory: Any, health_check: HealthCheck | None) -> None:
        make = getattr(factory, "create", factory)
        if not callable(make):
            raise ConfigError(
                f"shared resource {name!r}: the factory must be callable or have create()",
                key=name,
            )

        async def create() -> Any:
            return await maybe_await(make())

        self._add_shared(name, "factory", None, create, health_check)

    def register_reference(self, name: str, reference: ResourceReference) -> None:
        resolver = self._checked_resolver(name, reference)
        slot = self._add_shared(name, reference.type, resolver, None, None)
        slot.create = self._creator(slot, reference)

    def _add_shared(
        self,
        name: str,
        type_name: str,
        resolver: IResourceResolver | None,
        create: Callable[[], Awaitable[Any]] | None,
        health_check: HealthCheck | None,
    ) -> ResourceSlot:
        if not isinstance(name, str) or not RESOURCE_NAME.fullmatch(name):
            raise ConfigError(
                f"shared resource name {name!r} is invalid: expected a letter or _ followed "
                "by letters, digits or _ . -",
                key="resources",
            )
        if name in self._shared:
            raise ConfigError(f"shared resource {name!r} is already registered", key=name)
        slot = ResourceSlot(name, type_name, True, resolver, create, health_check)
        self._shared[name] = slot
        return slot

    def check_shared(self, references: Mapping[str, ResourceReference]) -> None:
        for name, reference in references.items():
            self._checked_resolver(name, reference)
            pool_key(name, reference)

    def shared_names(self) -> list[str]:
        return sorted(self._shared)

    def shared_slots(self) -> list[ResourceSlot]:
        """Every shared resource's slot, in the order they were registered."""
        return list(self._shared.values())

    def shared_slot(self, name: str) -> ResourceSlot:
        """The shared resource a run asks for by its own name.

        Raises:
            ResourceNotFoundError: No shared resource has the name.
        """
        slot = self._shared.get(name)
        if slot is None:
            raise ResourceNotFoundError(
                f"Resource {name!r} was not given to this run and no shared resource has that name",
                name=name,
            )
        return slot

    def named_slot(self, name: str, spec: str) -> ResourceSlot:
        """The shared resource ``spec`` (``"@shared"``) names for the run's ``name``.

        Raises:
            ResourceNotFoundError: It is not registered; the message lists the shared names.
        """
        slot = self._shared.get(spec[1:])
        if slot is None:
            known = ", ".join(self._shared) or "none"
            raise ResourceNotFoundError(
                f"Resource {name!r} refers to {spec!r}, which is not registered "
                f"(shared resources: {known})",
                name=name,
            )
        return slot

    # -- requests --------------------------------------------------------------------------

    def unavailable(self, references: Mapping[str, Any], required: Iterable[str]) -> list[str]:
        return [
            name
            for name in dict.fromkeys(required)
            if name not in references and name not in self._shared
        ]

    def checked_request(
        self, resources: Mapping[str, Any], *, principal: str | None, trusted: bool
    ) -> dict[str, Any]:
        if not isinstance(resources, Mapping):
            raise ResourceConfigError(
                f"resources must be an object of name to reference, got {type(resources).__name__}",
                key="resources",
            )
        # Whose declarations "@name" may find: the operator's (in-process), the
        # principal's, or nobody's (an untrusted request without a principal).
        owner = _OPERATOR_OWNER if trusted else principal
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
            pool_key(name, spec)  # refuses non-JSON config values now
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
            self.named_slot(name, spec)  # raises, naming the shared resources alone
            raise AssertionError("unreachable: the name is not shared")
        logger.debug("resource %r: %r is the caller's own earlier inline reference", name, spec)
        return reference

    def inline_slot(
        self, name: str, reference: ResourceReference, key: bytes, *, trusted: bool
    ) -> ResourceSlot:
        """A new slot for an inline reference, checked as its origin requires.

        Raises:
            ResourceConfigError: Its type is unknown, its config invalid, or (not
                ``trusted``) it may not be passed inline.
        """
        resolver = self._checked_for(name, reference, trusted=trusted)
        label = f"{reference.type}#{hashlib.sha256(key).hexdigest()[:10]}"
        slot = ResourceSlot(label, reference.type, False, resolver, None, key=key)
        slot.create = self._creator(slot, reference, guarded=not trusted)
        return slot

    # -- checks ----------------------------------------------------------------------------

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
            resolver = self._resolvers[reference.type] = FunctionResolver(made)
        if resolver is None:
            raise ResourceConfigError(
                f"Resource {name!r}: unknown resource type {reference.type!r} "
                f"(known: {', '.join(sorted(self._resolvers)) or 'none'})",
                key=name,
            )
        _checked(name, resolver.validate, reference.config)
        return resolver

    def _creator(
        self, slot: ResourceSlot, reference: ResourceReference, *, guarded: bool = False
    ) -> Callable[[], Awaitable[Any]]:
        """How ``slot``'s instance is made: through ``self.resolver`` (looked up when it
        is made, so an installed or patched resolver is used), with ``guarded`` callers'
        references connecting through the egress policy."""

        async def create() -> Any:
            credentials = await self.resolver.credentials(reference)
            if credentials is not None:
                slot.secret_values = _secret_strings(credentials)
            if guarded and self.egress is None and reference.type not in self._unguarded_inline:
                raise ResourceConfigError(
                    "inline references need an egress policy, and this registry has none "
                    "(bootstrap.build gives it inline_allowed_hosts)",
                    key="type",
                )
            egress = self.egress if guarded else None
            return await self.resolver.resolve(reference, credentials=credentials, egress=egress)

        return create


def pool_key(name: str, reference: ResourceReference) -> bytes:
    """``reference``'s pool key: equal references share one pooled instance.

    Raises:
        ResourceConfigError: Its config holds a value JSON cannot carry; names ``name``.
    """
    try:
        return reference.pool_key
    except ResourceConfigError as exc:
        raise ResourceConfigError(f"Resource {name!r}: {exc.message}", key=name) from None


def _checked(name: str, validate: Callable[[Mapping[str, Any]], None], config: Any) -> None:
    """``validate(config)``, its error prefixed with the resource's name."""
    try:
        validate(config)
    except ResourceConfigError as exc:
        raise ResourceConfigError(
            f"Resource {name!r}: {exc.message}", name=name, **exc.fields
        ) from None


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
