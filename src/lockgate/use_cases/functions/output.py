"""``FunctionOutput``: what functions print, in the gateway's log and in ``lockgate logs``.

Every invocation's output (and Lambda's START/END/REPORT lines) goes to the per-function
buffer that ``lockgate logs`` reads, all of it, and to the gateway's log, at most ``rate``
lines a second per function: under load the log stays readable, and a line says how many
were left out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lockgate.gateways.interfaces import ILogLines
from lockgate.models.function_log import output_lines
from lockgate.use_cases.functions.log_buffer import FunctionLogBuffer

__all__ = ["FunctionOutput"]

_DROP_REPORT_S = 1.0


@dataclass(slots=True)
class _Allowance:
    """A token bucket: ``rate`` lines a second, a second's worth at most in hand."""

    tokens: float
    refilled: float
    dropped: int = 0
    report_pending: bool = False


class FunctionOutput:
    """Takes each invocation's output; see the module docstring.

    Args:
        buffer: Where every line is kept for ``lockgate logs``.
        log: The gateway's log, or None to keep output out of it.
        rate: Lines per second per function written to the log.
        clock: Seconds since the epoch (a test's clock).
    """

    def __init__(
        self,
        buffer: FunctionLogBuffer,
        log: ILogLines | None,
        *,
        rate: int = 200,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.buffer = buffer
        self._log = log
        self._rate = rate
        self._clock = clock
        self._allowances: dict[str, _Allowance] = {}

    def record(self, function: str, request_id: str, data: bytes, runs: Sequence[int] = ()) -> None:
        """Take part of one invocation's output (all of it, or what arrived so far).

        Args:
            function: The function's name.
            request_id: The invocation's request id.
            data: The raw output.
            runs: ``[stream, length, ...]`` over ``data`` (see ``output_lines``).
        """
        if not data:
            return
        now = self._clock()
        self.buffer.add_output(function, now, request_id, data, runs)
        log = self._log
        if log is None:
            return
        logger = f"function.{function}"
        allowance = self._allowance(logger, now)
        if allowance.tokens < 1:  # the usual case under load: nothing to cut into lines
            self._drop(logger, allowance, data.count(b"\n") or 1)
            return
        lines = output_lines(data, runs)
        for stream, text in lines[: self._take(logger, allowance, len(lines))]:
            log.emit(
                "INFO",
                logger,
                text,
                {"function": function, "request_id": request_id, "stream": stream},
            )

    def record_job(self, job: str, run_id: str, stream: str, data: bytes) -> None:
        """Take lines a job run wrote (``stream``: ``stdout`` or ``stderr``): to the log
        only, under the same per-second allowance per job (``lockgate jobs show`` keeps
        the run's own output tail)."""
        log = self._log
        if log is None:
            return
        lines = [text for _, text in output_lines(data)]
        logger = f"job.{job}"
        allowance = self._allowance(logger, self._clock())
        for text in lines[: self._take(logger, allowance, len(lines))]:
            log.emit("INFO", logger, text, {"job": job, "run_id": run_id, "stream": stream})

    def _allowance(self, logger: str, now: float) -> _Allowance:
        """``logger``'s bucket, refilled for the time since it was last used."""
        allowance = self._allowances.get(logger)
        if allowance is None:
            allowance = self._allowances[logger] = _Allowance(float(self._rate), now)
        elif now > allowance.refilled:
            allowance.tokens = min(
                float(self._rate), allowance.tokens + (now - allowance.refilled) * self._rate
            )
            allowance.refilled = now
        return allowance

    def _take(self, logger: str, allowance: _Allowance, wanted: int) -> int:
        """How many of ``wanted`` lines the log takes; the rest are counted as dropped."""
        admitted = min(wanted, int(allowance.tokens))
        allowance.tokens -= admitted
        if admitted < wanted:
            self._drop(logger, allowance, wanted - admitted)
        return admitted

    def _drop(self, logger: str, allowance: _Allowance, count: int) -> None:
        allowance.dropped += count
        if not allowance.report_pending:
            allowance.report_pending = True
            self._report_later(logger)

    def _report_later(self, logger: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._report_dropped(logger)
            return
        loop.call_later(_DROP_REPORT_S, self._report_dropped, logger)

    def _report_dropped(self, logger: str) -> None:
        allowance = self._allowances.get(logger)
        if allowance is None or self._log is None:
            return
        dropped, allowance.dropped = allowance.dropped, 0
        allowance.report_pending = False
        if not dropped:
            return
        kind, _, name = logger.partition(".")
        where = f"`lockgate logs {name}`" if kind == "function" else "`lockgate jobs show`"
        self._log.emit(
            "WARNING",
            logger,
            f"{dropped} lines dropped from the log (over {self._rate} lines/s); {where} "
            "shows the latest",
            {kind: name, "stream": "platform", "dropped": dropped},
        )
