"""Typed reading of a resource reference's ``config``, shared by every resolver.

Each getter checks one key's type and range and records it as known; ``done()`` then
refuses the keys nobody read, so a typo (``max_szie``) is an error, not a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate.errors import ResourceConfigError

__all__ = ["ConfigReader", "credential_fields"]

# Keys that would put a credential in plain sight; they belong in a secret.
_CREDENTIAL_KEYS = frozenset({"password", "passwd", "secret", "token", "api_key", "dsn", "url"})


class ConfigReader:
    """Reads ``config`` for a resource of ``type_name``; every error names the key.

    Args:
        type_name: The reference's type, for messages.
        config: The reference's config.
        credential_keys_allowed: Keys from the credential list this type may take in
            ``config`` anyway (an HTTP client's ``url`` is not a credential).
    """

    def __init__(
        self,
        type_name: str,
        config: Mapping[str, Any],
        *,
        credential_keys_allowed: frozenset[str] = frozenset(),
    ) -> None:
        self._type = type_name
        self._config = config
        self._read: set[str] = set()
        for key in config:
            if key in _CREDENTIAL_KEYS and key not in credential_keys_allowed:
                raise ResourceConfigError(
                    f"{type_name} config must not hold {key!r}: store credentials as a secret "
                    "(lockgate secrets set NAME) and name it in the reference's credentials_ref",
                    key=key,
                )

    def _fail(self, key: str, expected: str, value: Any) -> ResourceConfigError:
        return ResourceConfigError(
            f"{self._type} config {key!r} must be {expected}, got {type(value).__name__}",
            key=key,
        )

    def _get(self, key: str) -> Any:
        self._read.add(key)
        return self._config.get(key)

    def has(self, key: str) -> bool:
        """Whether ``config`` sets ``key`` (to anything but null)."""
        return self._config.get(key) is not None

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is None:
            if required:
                raise ResourceConfigError(f"{self._type} config needs {key!r}", key=key)
            return default
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string", value)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise ResourceConfigError(
                f"{self._type} config {key!r} must be one of {', '.join(choices)}, got {value!r}",
                key=key,
            )
        return value

    def integer(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"from {minimum}" if minimum is not None else ""
            bounds += f" to {maximum}" if maximum is not None else " or more"
            raise ResourceConfigError(
                f"{self._type} config {key!r} must be an integer {bounds.strip()}, got {value}",
                key=key,
            )
        return value

    def number(
        self, key: str, default: float | None = None, *, minimum: float = 0.0
    ) -> float | None:
        """A duration or size as int or float, at least ``minimum`` and finite."""
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, "a number", value)
        if not minimum <= float(value) < float("inf"):
            raise ResourceConfigError(
                f"{self._type} config {key!r} must be a finite number of at least {minimum}, "
                f"got {value}",
                key=key,
            )
        return float(value)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def strings(self, key: str) -> dict[str, str]:
        """An object of string values (HTTP headers, server settings)."""
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self._fail(key, "an object of strings", value)
        return dict(value)

    def string_list(self, key: str) -> list[str]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self._fail(key, "a list of non-empty strings", value)
        return list(value)

    def done(self) -> None:
        """Refuse the keys no getter read.

        Raises:
            ResourceConfigError: Naming the unknown keys and the ones this type takes.
        """
        unknown = sorted(set(self._config) - self._read)
        if unknown:
            raise ResourceConfigError(
                f"unknown {self._type} config key(s): {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(self._read))})",
                key=unknown[0],
            )


def credential_fields(type_name: str, credentials: Any, allowed: frozenset[str]) -> dict[str, str]:
    """The credentials secret's value as an object of strings with only ``allowed`` keys.

    Raises:
        ResourceConfigError: Another shape; the message names keys, never values.
    """
    if credentials is None:
        return {}
    if not isinstance(credentials, Mapping) or not all(
        isinstance(v, str) for v in credentials.values()
    ):
        raise ResourceConfigError(
            f"{type_name} credentials must be an object of strings with keys from "
            f"{', '.join(sorted(allowed))}",
            key="credentials_ref",
        )
    unknown = sorted(set(credentials) - allowed)
    if unknown:
        raise ResourceConfigError(
            f"unknown {type_name} credential key(s): {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(allowed))})",
            key="credentials_ref",
        )
    return dict(credentials)
