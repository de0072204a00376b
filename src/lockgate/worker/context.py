"""The ``context`` object a handler receives, with the fields AWS Lambda's Python runtime has,
as its runtime interface client (``awslambdaric``) makes them: ``memory_limit_in_mb`` is
the environment's string, ``client_context`` and its ``client`` and ``identity`` are objects
whose every attribute exists (``None`` when the caller did not send it)."""

from __future__ import annotations

import base64
import json
import time

# typing costs a worker ~15 ms to import; type checkers still read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Client", "ClientContext", "CognitoIdentity", "LambdaContext"]


class _Fields:
    """An object with a fixed set of attributes, each read from a dict (None if absent)."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, data: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, data.get(name))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Client(_Fields):
    """``context.client_context.client``: the calling app, as the mobile SDKs send it."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )


class CognitoIdentity(_Fields):
    """``context.identity``: the caller's Amazon Cognito identity; both ``None`` here, as on
    Lambda for every caller that is not a mobile SDK signed in through Cognito."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")


class ClientContext(_Fields):
    """``context.client_context``, decoded from the ``X-Amz-Client-Context`` header."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        client = data.get("client")
        self.client: Any = Client(client) if isinstance(client, dict) else None

    @classmethod
    def decode(cls, encoded: str | None) -> ClientContext | None:
        if not encoded:
            return None
        try:
            data = json.loads(base64.b64decode(encoded))
        except (ValueError, TypeError):
            return None
        return cls(data) if isinstance(data, dict) else None


class LambdaContext:
    def __init__(
        self,
        *,
        aws_request_id: str,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: str,
        invoked_function_arn: str,
        log_group_name: str,
        log_stream_name: str,
        deadline_ms: int,
        client_context: ClientContext | None,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = invoked_function_arn
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.client_context = client_context
        self.identity = CognitoIdentity({})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, "
            f"function_name={self.function_name!r})"
        )
