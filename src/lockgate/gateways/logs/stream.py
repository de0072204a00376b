"""``TextStreamLogLines``: hot-path log lines formatted by hand and written in batches.

Lines are written at most ``FLUSH_DELAY_S`` after they were logged, or at once when a batch
reaches ``FLUSH_LINES``: under load one ``write`` carries hundreds of lines, not a few per
event-loop turn (a write a turn cost the route benchmark a fifth of its throughput).

The format is the gateway's own (``log_format``): in text, ``logging``'s default time stamp,
level, logger and request id; in JSON, the fields ``JsonFormatter`` writes plus the line's own.
Secret values the gateway has decrypted are masked here too: in text on the whole batch at
once, in JSON in each line's fields before they are encoded (escaping would hide them).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Mapping
from typing import Literal, TextIO

import orjson

from lockgate.use_cases.secrets.redaction import REVEALED, RevealedSecrets

__all__ = ["FLUSH_DELAY_S", "FLUSH_LINES", "TextStreamLogLines"]

FLUSH_DELAY_S = 0.05
FLUSH_LINES = 512

_LEVELS = logging.getLevelNamesMapping()


class TextStreamLogLines:
    """See ``ILogLines``.

    Args:
        log_format: ``text`` or ``json``, as the gateway's other lines.
        level: The lowest level written (a logging level name).
        stream: Where lines go; by default ``sys.stderr`` at the time of each write.
        revealed: The secret values to mask.
    """

    def __init__(
        self,
        log_format: Literal["text", "json"],
        level: str,
        *,
        stream: TextIO | None = None,
        revealed: RevealedSecrets = REVEALED,
    ) -> None:
        self._json = log_format == "json"
        self._threshold = _LEVELS.get(level.upper(), logging.INFO)
        self._stream = stream
        self._revealed = revealed
        self._pending: list[str] = []
        self._scheduled: asyncio.TimerHandle | None = None
        self._second = -1
        self._second_text = ""

    def enabled(self, level: str) -> bool:
        return _LEVELS.get(level, logging.INFO) >= self._threshold

    def emit(self, level: str, logger: str, message: str, fields: Mapping[str, object]) -> None:
        if _LEVELS.get(level, logging.INFO) < self._threshold:
            return
        now = time.time()
        if self._json:
            entry: dict[str, object] = {
                "time": self._stamp(now),
                "level": level.lower(),
                "logger": logger,
                "message": message,
            }
            entry.update(fields)
            redactor = self._revealed.redactor
            if redactor:  # before encoding: a value with a quote or backslash is escaped after
                entry = redactor.value(entry)
            line = orjson.dumps(entry, default=str).decode()
        else:
            stream = fields.get("stream")
            suffix = f" {stream}" if stream == "stderr" else ""
            run_id = fields.get("run_id")
            tag = fields.get("request_id") or (f"run {run_id}" if run_id else "-")
            line = f"{self._stamp(now)} {level} {logger} [{tag}]{suffix}: {message}"
        pending = self._pending
        pending.append(line)
        if len(pending) >= FLUSH_LINES:
            self.flush()
            return
        if self._scheduled is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a CLI command, a test): write at once
            self.flush()
            return
        self._scheduled = loop.call_later(FLUSH_DELAY_S, self.flush)

    def flush(self) -> None:
        """Write every buffered line now."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if not self._pending:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        redactor = self._revealed.redactor
        if redactor and not self._json:  # JSON lines were masked before they were encoded
            text = redactor.text(text)
        stream = self._stream or sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or broken log stream loses lines, not calls
            pass

    def _stamp(self, now: float) -> str:
        """ISO 8601 in UTC for JSON (as ``JsonFormatter``), else logging's default asctime
        (local time); the seconds part is formatted once per second."""
        second = int(now)
        millis = int((now - second) * 1000)
        if second != self._second:
            self._second = second
            self._second_text = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                if self._json
                else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            )
        if self._json:
            return f"{self._second_text}.{millis:03d}Z"
        return f"{self._second_text},{millis:03d}"
