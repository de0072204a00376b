"""The ``context`` object a handler receives, with the fields AWS Lambda's Python runtime has."""

from __future__ import annotations

import base64
import json
import time

# typing costs a worker ~15 ms to import; type checkers still read this block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ClientContext", "LambdaContext"]


class ClientContext:
    """``context.client_context``, decoded from the ``X-Amz-Client-Context`` header."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.client: Any = data.get("client")
        self.custom: Any = data.get("custom")
        self.env: Any = data.get("env")

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
        memory_limit_in_mb: int,
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
        self.identity: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, "
            f"function_name={self.function_name!r})"
        )
