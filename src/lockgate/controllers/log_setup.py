"""Logging: plain text for people, one JSON object per line for machines; no line carries a
secret value the gateway has decrypted (``SecretRedactingFilter``)."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Literal

from lockgate.use_cases.secrets.redaction import REVEALED, RevealedSecrets

__all__ = ["SecretRedactingFilter", "configure_logging", "request_id_var"]

# The id of the request being served, set by the HTTP layer; every log record carries it.
request_id_var: ContextVar[str | None] = ContextVar("lockgate_request_id", default=None)

_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class SecretRedactingFilter(logging.Filter):
    """Replaces every secret value the gateway has decrypted (``REVEALED``) with ``***`` in
    a record before any handler formats it: its message (arguments merged in), its
    exception and stack text, and its string extra fields.

    Costs nothing until a secret has been decrypted; after that, one compiled pattern scans
    each record's text.

    Args:
        revealed: The values to hide.
    """

    def __init__(self, revealed: RevealedSecrets = REVEALED) -> None:
        super().__init__()
        self._revealed = revealed
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self._revealed.redactor
        if not redactor:
            return True
        message = record.getMessage()
        hidden = redactor.text(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        if record.exc_info and not record.exc_text:
            # Formatted here, once, so the formatters print this redacted text.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.text(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                record.__dict__[key] = redactor.text(value)
        return True


# Extra fields meant for a terminal, not a log line: uvicorn's ``color_message`` repeats the
# message with ANSI colour escapes.
_TERMINAL_ONLY = frozenset({"color_message"})


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...extra fields}``, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in _TERMINAL_ONLY and key[0] != "_":
                entry[key] = value
        if record.exc_text:  # set (and scrubbed of secret values) by SecretRedactingFilter
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(log_format: Literal["text", "json"], level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(SecretRedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
