"""``ResourceResolver``: the one path by which a ``ResourceReference`` becomes a resource.

Seed 002's extension base. ``self._resolvers`` maps a reference type to an
``async (config, credentials) -> resource`` function; a subclass adds a type the way the
seed writes it::

    class CustomResourceResolver(ResourceResolver):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._resolvers["message_queue"] = self._resolve_message_queue

and is installed with ``gateway.use_resolver(...)`` (or
``EnhancedDurableAPIGateway(resource_resolver=...)``). The ``ResourceRegistry`` creates
every instance, shared or inline, by calling ``resolve``: patching it (as the seed's unit
test does) intercepts them all. The registry keeps pooling, sharing and closing; this class
only makes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from lockgate.errors import ResourceConfigError, ResourceUnavailableError, SecretNotFoundError
from lockgate.gateways.interfaces import IEgressGuard, IInlineResourceResolver, ISecretReader
from lockgate.models.resource import ResourceReference
from lockgate.use_cases.resources.instances import close_object, maybe_await

if TYPE_CHECKING:  # the registry holds its resolver: named for the type only
    from lockgate.use_cases.resources.registry import ResourceRegistry

__all__ = ["FunctionResolver", "ResolverFunction", "ResourceResolver", "SecretReader"]

logger = logging.getLogger("lockgate.resources")

ResolverFunction = Callable[[Mapping[str, Any], Any], Awaitable[Any]]
"""A type's resolver as the seed writes one: ``async (config, credentials) -> resource``."""


SecretReader = ISecretReader
"""The name before ports were ``I``-named (``lockgate.gateways.interfaces.ISecretReader``)."""


class FunctionResolver:
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
            healthy = await maybe_await(ping())
            if healthy is False:
                raise ResourceUnavailableError("its ping() returned False")

    async def close(self, resource: Any) -> None:
        await close_object(resource)


class _Read:
    """``resolve`` reads the credentials itself (no value was handed to it)."""


_READ = _Read()


class ResourceResolver:
    """Makes resources from references: ``self._resolvers[type](config, credentials)``.

    Args:
        resource_registry: The registry this resolver makes resources for; its resolvers
            make the built-in types, and a subclass may share what it makes there
            (``self.resource_registry.register_factory(...)``, as the seed does).
        secret_manager: Reads ``credentials_ref`` secrets when ``resolve`` is called
            without credentials; by default the registry's secrets (the gateway's).
    """

    def __init__(
        self, resource_registry: ResourceRegistry, secret_manager: ISecretReader | None = None
    ) -> None:
        self.resource_registry = resource_registry
        self._secret_manager = secret_manager
        self._resolvers: dict[str, ResolverFunction] = resource_registry.resolver_functions()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(types={sorted(self._resolvers)})"

    @property
    def secret_manager(self) -> ISecretReader | None:
        """The secrets credentials are read from: the one given, else the registry's."""
        return self._secret_manager or self.resource_registry.secrets

    def types(self) -> dict[str, ResolverFunction]:
        """Type name → the function that makes it (a copy)."""
        return dict(self._resolvers)

    def register(self, type_name: str, resolve: ResolverFunction) -> None:
        """Make references of ``type_name`` with ``resolve`` (as ``_resolvers[type] = ...``)."""
        self._resolvers[type_name] = resolve

    async def resolve(
        self,
        reference: ResourceReference,
        *,
        credentials: Any = _READ,
        egress: IEgressGuard | None = None,
    ) -> Any:
        """A new resource for ``reference`` (the registry pools it; this never caches).

        Args:
            reference: What to make.
            credentials: The decrypted ``credentials_ref`` value, when the caller read it
                already (the registry does, to scrub it from messages); read here if omitted.
            egress: The policy a caller's inline resource connects through: given, a
                built-in type connects only where it allows (``create_inline``).

        Raises:
            ResourceConfigError: The type is unknown, or its config or credentials invalid.
            SecretNotFoundError: ``credentials_ref`` names no secret (the message names it).
            ResourceUnavailableError: Creating it failed (``ResourceTimeoutError`` past its
                connect timeout); the message never holds a credential.

        Side Effects:
            Opens whatever the resource holds (connections, a client).
        """
        resolve = self._resolvers.get(reference.type)
        if resolve is None:
            known = ", ".join(sorted(self._resolvers)) or "none"
            raise ResourceConfigError(
                f"unknown resource type {reference.type!r} (known: {known})", key="type"
            )
        if isinstance(credentials, _Read):
            credentials = await self.credentials(reference)
        started = time.monotonic()
        logger.debug("creating a %s resource", reference.type)
        guarded = self.resource_registry.resolver_for(reference.type)
        if egress is None:
            resource = await resolve(reference.config, credentials)
        elif isinstance(guarded, IInlineResourceResolver) and resolve == guarded.create:
            resource = await guarded.create_inline(reference.config, credentials, egress)
        elif self.resource_registry.connects_nowhere(reference.type):
            resource = await resolve(reference.config, credentials)
        else:  # a maker that cannot apply the policy: a caller must not choose its target
            raise ResourceConfigError(
                f"type {reference.type!r} cannot be passed inline: its resolver does not "
                "apply the egress policy (inline_allowed_hosts)",
                key="type",
            )
        logger.debug(
            "created a %s resource in %.1f ms",
            reference.type,
            (time.monotonic() - started) * 1000,
        )
        return resource

    async def credentials(self, reference: ResourceReference) -> Any:
        """The decrypted value of ``reference``'s ``credentials_ref`` (None without one).

        Raises:
            ResourceConfigError: It names a secret, and no secrets are configured.
            SecretNotFoundError: No secret by that name (the message names it).
        """
        secret = reference.credentials_ref
        if secret is None:
            return None
        secrets = self.secret_manager
        if secrets is None:
            raise ResourceConfigError(
                f"its credentials_ref names secret {secret!r}, but this gateway has no "
                "secrets configured (set LOCKGATE_MASTER_KEY or a key file; see lockgate "
                "secrets init-key)",
                key="credentials_ref",
            )
        logger.debug("reading the credentials in secret %r", secret)
        try:
            value = await secrets.get_secret(secret)
        except SecretNotFoundError:
            raise SecretNotFoundError(
                f"its credentials_ref names secret {secret!r}, which does not exist "
                "(lockgate secrets set)",
                secret=secret,
            ) from None
        return value.reveal()
