"""Resource references: JSON-serialisable names for non-serialisable things.

A run's ``resources`` map the name a step asks for (``await get_resource("source_db")``) to
either a ``ResourceReference`` (a type, its config, and the name of a secret holding its
credentials) or ``"@name"``, a shared resource the operator registered with the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate import json_codec
from lockgate.errors import ResourceConfigError

__all__ = ["RESOURCE_NAME", "ResourceReference", "ResourceSpec", "parse_resource"]

RESOURCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")
"""Names of resources, both as a run names them and as shared resources are registered."""

_REFERENCE_KEYS = frozenset({"type", "config", "credentials_ref"})


@dataclass(frozen=True, slots=True)
class ResourceReference:
    """A typed resource, created (or found already pooled) when a step first asks for it.

    Attributes:
        type: The resolver that creates it: ``database``, ``http_client``, ``cache``,
            ``message_queue`` or a type registered with ``register_resolver``.
        config: The resolver's settings (hosts, pool sizes, timeouts); never credentials.
        credentials_ref: The name of a secret in the ``SecretManager`` whose value (for
            example ``{"user": ..., "password": ...}``) is read when the resource is created.
    """

    type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    credentials_ref: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise ResourceConfigError(
                f"a resource reference's type must be a non-empty string, got {self.type!r}",
                key="type",
            )
        if not isinstance(self.config, Mapping):
            raise ResourceConfigError(
                f"the config of a {self.type!r} resource must be an object, "
                f"got {type(self.config).__name__}",
                key="config",
            )
        if self.credentials_ref is not None and (
            not isinstance(self.credentials_ref, str) or not self.credentials_ref
        ):
            raise ResourceConfigError(
                f"the credentials_ref of a {self.type!r} resource must be a secret's name, "
                f"got {type(self.credentials_ref).__name__}",
                key="credentials_ref",
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form a run records and the HTTP API accepts."""
        data: dict[str, Any] = {"type": self.type, "config": dict(self.config)}
        if self.credentials_ref is not None:
            data["credentials_ref"] = self.credentials_ref
        return data

    @property
    def pool_key(self) -> bytes:
        """Equal references (type, config, credentials) share one pool: this is their key.

        Raises:
            ResourceConfigError: ``config`` holds a value that is not JSON.
        """
        try:
            return json_codec.dumps([self.type, self.config, self.credentials_ref], sort_keys=True)
        except TypeError as exc:
            raise ResourceConfigError(
                f"the config of a {self.type!r} resource must hold JSON values only: {exc}",
                key="config",
            ) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceReference:
        """Read the JSON form; unknown keys are refused (a typo must not be ignored).

        Raises:
            ResourceConfigError: A key is unknown or a value has the wrong type.
        """
        unknown = sorted(set(data) - _REFERENCE_KEYS)
        if unknown:
            raise ResourceConfigError(
                f"unknown key(s) in a resource reference: {', '.join(map(repr, unknown))} "
                "(expected type, config, credentials_ref)",
                key=unknown[0],
            )
        if "type" not in data:
            raise ResourceConfigError("a resource reference needs a 'type'", key="type")
        config = data.get("config")
        return cls(
            type=data["type"],
            config={} if config is None else config,
            credentials_ref=data.get("credentials_ref"),
        )


ResourceSpec = ResourceReference | str
"""What a run's ``resources`` map a name to: a reference, or ``"@name"`` for a shared one."""


def parse_resource(name: str, value: Any) -> ResourceSpec:
    """One entry of a request's ``resources``, checked: a ``ResourceReference`` (or its JSON
    form) or ``"@shared_name"``.

    Raises:
        ResourceConfigError: The entry is neither; the message names ``name``.
    """
    if not isinstance(name, str) or not RESOURCE_NAME.fullmatch(name):
        raise ResourceConfigError(
            f"resource name {name!r} is invalid: expected a letter or _ followed by up to 127 "
            "letters, digits or _ . -",
            key="resources",
        )
    if isinstance(value, ResourceReference):
        return value
    if isinstance(value, str):
        if value.startswith("@") and RESOURCE_NAME.fullmatch(value[1:]):
            return value
        raise ResourceConfigError(
            f"Resource {name!r}: a string must name a shared resource as '@name', got {value!r}",
            key=name,
        )
    if isinstance(value, Mapping):
        try:
            return ResourceReference.from_dict(value)
        except ResourceConfigError as exc:
            raise ResourceConfigError(f"Resource {name!r}: {exc.message}", key=name) from None
    raise ResourceConfigError(
        f"Resource {name!r} must be a ResourceReference, its JSON object or '@name', "
        f"got {type(value).__name__}",
        key=name,
    )
