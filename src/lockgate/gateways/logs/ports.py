"""Where hot-path log lines go: one call per line, formatted and written in batches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["ILogLines"]


@runtime_checkable
class ILogLines(Protocol):
    """Log lines written on every invocation or request (function output, the access log),
    where ``logging``'s ~30 µs per record would cost a tenth of the gateway's throughput."""

    def emit(self, level: str, logger: str, message: str, fields: Mapping[str, object]) -> None:
        """Log one line, in the gateway's log format.

        Args:
            level: ``INFO``, ``WARNING`` ...; a line below the gateway's log level is left
                out.
            logger: The logger name shown (``function.hello``, ``lockgate.access``).
            message: The line's text.
            fields: Extra fields (``request_id`` is shown in text; JSON carries them all).

        Raises:
            Nothing: a log line must never fail a request.

        Side Effects:
            Buffers the line; the buffer is written out once per event-loop turn.

        Note:
            One ``write`` to the log stream per event-loop turn, not per line.
        """
        ...
