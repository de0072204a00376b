"""The read-only secrets backend: ``LOCKGATE_SECRET_<NAME>`` environment variables.

For deployments whose platform already injects secrets as environment variables (Kubernetes
secrets, systemd credentials). Nothing is encrypted here and nothing can be written: the
platform owns the values. A value that starts with ``{`` or ``[`` is read as JSON (so
``{"user": ..., "password": ...}`` works for a database); anything else is a string.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from lockgate import json_codec
from lockgate.errors import InvalidRequestError, SecretNotFoundError, SecretsReadOnlyError
from lockgate.models.secret import SECRET_NAME, SecretMetadata, SecretValue

__all__ = ["ENV_SECRET_PREFIX", "EnvironmentSecretBackend", "EnvironmentSecrets"]

ENV_SECRET_PREFIX = "LOCKGATE_SECRET_"  # noqa: S105  # a variable-name prefix, not a secret
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def env_name(name: str) -> str:
    """The variable that holds secret ``name``: ``db.creds`` → ``LOCKGATE_SECRET_DB_CREDS``."""
    return ENV_SECRET_PREFIX + _NOT_ALNUM.sub("_", name).upper()


class EnvironmentSecretBackend:
    """An ``ISecretBackend`` over environment variables: secrets read from the
    environment; ``store_secret`` and ``delete_secret`` refuse.

    Args:
        environ: The variables to read (``os.environ`` by default).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def __repr__(self) -> str:
        return "EnvironmentSecretBackend()"

    async def get_secret(self, name: str) -> SecretValue:
        """The value of ``LOCKGATE_SECRET_<NAME>``.

        Raises:
            SecretNotFoundError: The variable is not set.
            SecretDecryptionError: Never (nothing is encrypted); a value that starts like
                JSON but is not JSON raises InvalidRequestError naming the variable.
        """
        if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
            raise InvalidRequestError(f"secret name {name!r} is invalid", field="name")
        variable = env_name(name)
        text = self._environ.get(variable)
        if text is None:
            raise SecretNotFoundError(
                f"no secret named {name!r} (the environment backend reads {variable})",
                secret=name,
            )
        value: Any = text
        if text.lstrip().startswith(("{", "[")):
            try:
                value = json_codec.loads(text.encode())
            except ValueError:
                raise InvalidRequestError(
                    f"{variable} starts like JSON but is not valid JSON", field=variable
                ) from None
        return SecretValue(value)

    async def list_secrets(self) -> list[SecretMetadata]:
        """The variables with the prefix, as lower-case names (the mapping back is lossy:
        ``.`` and ``-`` both became ``_``)."""
        return [
            SecretMetadata(key[len(ENV_SECRET_PREFIX) :].lower(), 0.0, 0.0, "environment", 1)
            for key in sorted(self._environ)
            if key.startswith(ENV_SECRET_PREFIX) and len(key) > len(ENV_SECRET_PREFIX)
        ]

    async def store_secret(
        self,
        name: str,
        value: Any,  # noqa: ARG002
        *,
        encrypt: bool = True,  # noqa: ARG002
    ) -> SecretMetadata:
        raise SecretsReadOnlyError(
            f"cannot store secret {name!r}: the environment secrets backend is read-only "
            f"(set {env_name(name)} where the gateway is deployed)",
            secret=name,
        )

    async def delete_secret(self, name: str) -> None:
        raise SecretsReadOnlyError(
            f"cannot delete secret {name!r}: the environment secrets backend is read-only",
            secret=name,
        )


EnvironmentSecrets = EnvironmentSecretBackend
"""The name before implementations were named by technology and purpose."""
