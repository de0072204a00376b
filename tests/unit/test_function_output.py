"""``FunctionOutput``: every line into the buffer, at most ``rate`` lines a second per
function into the gateway's log, and a line saying how many were left out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from lockgate.gateways.interfaces import ILogLines
from lockgate.use_cases.functions import output as output_module
from lockgate.use_cases.functions.log_buffer import FunctionLogBuffer, LogQuery
from lockgate.use_cases.functions.output import FunctionOutput
from tests.support import ManualClock, eventually


@dataclass(frozen=True)
class Emitted:
    level: str
    logger: str
    message: str
    fields: Mapping[str, object]


class RecordingLog:
    """An ``ILogLines`` that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[Emitted] = []

    def emit(self, level: str, logger: str, message: str, fields: Mapping[str, object]) -> None:
        self.lines.append(Emitted(level, logger, message, dict(fields)))

    def of(self, level: str) -> list[Emitted]:
        return [line for line in self.lines if line.level == level]


def numbered(count: int, prefix: str = "line") -> bytes:
    return b"".join(f"{prefix} {n}\n".encode() for n in range(count))


def make(rate: int = 10, lines: int = 10_000) -> tuple[FunctionOutput, RecordingLog, ManualClock]:
    log, clock = RecordingLog(), ManualClock()
    return FunctionOutput(FunctionLogBuffer(lines), log, rate=rate, clock=clock), log, clock


def test_the_recording_log_is_an_ilog_lines() -> None:
    assert isinstance(RecordingLog(), ILogLines)


def test_each_line_goes_to_the_log_tagged_with_function_request_id_and_stream() -> None:
    output, log, _ = make()
    data = b"START RequestId: r-1 Version: $LATEST\nhello\nbad\n"
    output.record("greet", "r-1", data, [0, 38, 1, 6, 2, 4])
    assert [(e.level, e.logger, e.message) for e in log.lines] == [
        ("INFO", "function.greet", "START RequestId: r-1 Version: $LATEST"),
        ("INFO", "function.greet", "hello"),
        ("INFO", "function.greet", "bad"),
    ]
    assert [e.fields for e in log.lines] == [
        {"function": "greet", "request_id": "r-1", "stream": stream}
        for stream in ("platform", "stdout", "stderr")
    ]


def test_over_the_rate_only_rate_lines_reach_the_log_and_a_warning_counts_the_rest() -> None:
    output, log, _ = make(rate=10)
    output.record("chatty", "r-1", numbered(100), [1, len(numbered(100))])
    admitted = log.of("INFO")
    assert [e.message for e in admitted] == [f"line {n}" for n in range(10)]
    [warning] = log.of("WARNING")
    assert warning.logger == "function.chatty"
    assert warning.message.startswith("90 lines dropped from the log (over 10 lines/s)")
    assert "lockgate logs chatty" in warning.message
    assert warning.fields["dropped"] == 90
    assert warning.fields["function"] == "chatty"


def test_the_buffer_keeps_every_line_even_those_left_out_of_the_log() -> None:
    output, _, _ = make(rate=10)
    output.record("chatty", "r-1", numbered(100))
    kept = output.buffer.read(LogQuery("chatty", limit=1000))
    assert [line.message for line in kept] == [f"line {n}" for n in range(100)]
    assert {line.request_id for line in kept} == {"r-1"}


def test_the_allowance_refills_with_time_up_to_one_second_of_lines() -> None:
    output, log, clock = make(rate=10)
    output.record("fn", "r-1", numbered(10))
    assert len(log.of("INFO")) == 10
    output.record("fn", "r-2", numbered(10))
    assert len(log.of("INFO")) == 10  # nothing left this second
    clock.advance(0.5)
    output.record("fn", "r-3", numbered(10))
    assert len(log.of("INFO")) == 15  # half a second: five lines
    clock.advance(60)  # a quiet minute saves up one second's worth, no more
    output.record("fn", "r-4", numbered(100))
    assert len(log.of("INFO")) == 25


def test_each_function_has_its_own_allowance() -> None:
    output, log, _ = make(rate=10)
    output.record("loud", "r-1", numbered(50))
    output.record("quiet", "r-2", b"just one\n")
    assert [e.message for e in log.of("INFO") if e.fields["function"] == "quiet"] == ["just one"]
    [warning] = log.of("WARNING")
    assert warning.fields["function"] == "loud"


def test_no_warning_while_within_the_rate() -> None:
    output, log, clock = make(rate=10)
    for n in range(5):
        output.record("fn", f"r-{n}", numbered(10))
        clock.advance(1.0)
    assert len(log.of("INFO")) == 50
    assert log.of("WARNING") == []


async def test_drops_are_reported_once_later_with_their_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(output_module, "_DROP_REPORT_S", 0.01)
    output, log, _ = make(rate=10)
    output.record("fn", "r-1", numbered(30))  # 20 dropped
    output.record("fn", "r-2", numbered(5))  # 5 more, before the report
    assert log.of("WARNING") == []  # reported a while after, not per call
    await eventually(lambda: log.of("WARNING"))
    await asyncio.sleep(0.05)  # a second report would have come by now
    [warning] = log.of("WARNING")
    assert warning.fields["dropped"] == 25
    assert warning.message.startswith("25 lines dropped")


def test_without_a_log_the_buffer_still_gets_every_line() -> None:
    buffer = FunctionLogBuffer()
    FunctionOutput(buffer, None, rate=1).record("fn", "r-1", numbered(5))
    assert len(buffer.read(LogQuery("fn"))) == 5


def test_output_without_lines_records_nothing() -> None:
    output, log, _ = make()
    output.record("fn", "r-1", b"\n\n   \n")
    assert log.lines == []
    assert output.buffer.read(LogQuery()) == []


def test_lines_carry_the_clocks_time() -> None:
    output, _, clock = make()
    clock.now = 1_700_000_000.25
    output.record("fn", "r-1", b"x\n")
    [line] = output.buffer.read(LogQuery())
    assert line.time == 1_700_000_000.25
