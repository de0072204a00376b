"""Logging: plain text for people, one JSON object per line for machines; no line carries a
secret value the gateway has decrypted (``SecretRedactingFilter``)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal

from lockgate.models.log_context import request_id_var, run_id_var
from lockgate.use_cases.secrets.redaction import REVEALED, RevealedSecrets

__all__ = ["SecretRedactingFilter", "configure_logging", "request_id_var"]

_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Tags each record with the request and the workflow run in hand (``tag``: what the
    text format shows between brackets)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        run_id = getattr(record, "run_id", None) or run_id_var.get()
        record.request_id = request_id
        record.run_id = run_id
        record.tag = request_id or (f"run {run_id}" if run_id else "-")
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
# message with ANSI colour escapes; ``tag`` is the text format's bracket.
_TERMINAL_ONLY = frozenset({"color_message", "tag"})


_CONTEXT_FIELDS = frozenset({"request_id", "run_id"})


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
            if key in _STANDARD_ATTRIBUTES or key in _TERMINAL_ONLY or key[0] == "_":
                continue
            if value is None and key in _CONTEXT_FIELDS:  # outside a request or a run
                continue
            # An extra field never replaces one of ours: each key appears once per line.
            entry[f"extra_{key}" if key in entry else key] = value
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
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(tag)s]: %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(SecretRedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
