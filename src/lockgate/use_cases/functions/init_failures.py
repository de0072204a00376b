"""``InitFailures``: why one pool's workers cannot start, kept for health and logged once.

A pool retries a failing start (with backoff, and once per caller that needs a worker), so
logging every failure would bury the one line an operator needs under identical copies:
each distinct error is logged once, with the handler's traceback and what it printed, and
logged again only after a worker has started in between.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lockgate.errors import LockgateError

__all__ = ["InitFailures"]

logger = logging.getLogger(__name__)

_OUTPUT_LOGGED = 2048  # the tail of what the handler printed while it was imported


class InitFailures:
    """The last start failure of one function's workers.

    Args:
        function: The function's name, for the log.
    """

    __slots__ = ("_logged", "function", "last")

    def __init__(self, function: str) -> None:
        self.function = function
        self.last: str | None = None  # the message of the last failed start, until a success
        self._logged: str | None = None

    def failed(self, error: LockgateError) -> None:
        """Keep ``error`` as the last failure; log it unless it is the one logged last."""
        self.last = error.message
        if error.message == self._logged:
            return
        self._logged = error.message
        logger.error(
            "function %s cannot start a worker: %s%s",
            self.function,
            error.message,
            _details(error),
        )

    def started(self) -> None:
        """A worker started: the failure is over (a new one will be logged again)."""
        if self.last is not None:
            logger.warning("function %s starts workers again", self.function)
        self.last = None
        self._logged = None


def _details(error: LockgateError) -> str:
    """The handler's traceback and the tail of its output, as lines after the message."""
    lines: list[str] = []
    trace = error.fields.get("stack_trace")
    if isinstance(trace, Sequence) and not isinstance(trace, str) and trace:
        lines.append("Traceback (most recent call last):")
        lines.extend(str(frame).rstrip("\n") for frame in trace)
        kind, message = error.fields.get("error_type"), error.fields.get("error_message")
        if kind is not None:
            lines.append(f"{kind}: {message}")
    output = error.fields.get("logs")
    if isinstance(output, str) and output.strip():
        lines.append("Output while initialising:")
        lines.append(output[-_OUTPUT_LOGGED:].rstrip("\n"))
    return "".join(f"\n{line}" for line in lines)
