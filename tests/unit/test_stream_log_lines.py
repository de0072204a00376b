"""``TextStreamLogLines``: hot-path lines in the gateway's text or JSON format, written once
per event-loop turn, secret values masked."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest

from lockgate.gateways.interfaces import ILogLines
from lockgate.gateways.logs.stream import FLUSH_DELAY_S, FLUSH_LINES, TextStreamLogLines
from lockgate.use_cases.secrets.redaction import RevealedSecrets

FIELDS = {"function": "fail", "request_id": "r-42", "stream": "stderr"}
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO function\.fail \[r-42\] stderr: it broke$"
)


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_it_is_an_ilog_lines() -> None:
    assert isinstance(TextStreamLogLines("text", "INFO", stream=io.StringIO()), ILogLines)


def test_text_has_time_level_logger_request_id_and_stderr_tag() -> None:
    out = io.StringIO()
    TextStreamLogLines("text", "INFO", stream=out).emit("INFO", "function.fail", "it broke", FIELDS)
    [written] = lines_of(out)
    assert TEXT_LINE.match(written), written


def test_text_tags_only_stderr_and_shows_a_dash_without_a_request_id() -> None:
    out = io.StringIO()
    log = TextStreamLogLines("text", "INFO", stream=out)
    log.emit("INFO", "function.ok", "fine", {"request_id": "r-1", "stream": "stdout"})
    log.emit("WARNING", "function.ok", "dropped", {"stream": "platform"})
    first, second = lines_of(out)
    assert first.endswith(" INFO function.ok [r-1]: fine")
    assert second.endswith(" WARNING function.ok [-]: dropped")


def test_json_lines_parse_and_carry_every_field() -> None:
    out = io.StringIO()
    TextStreamLogLines("json", "INFO", stream=out).emit("INFO", "function.fail", "it broke", FIELDS)
    [written] = lines_of(out)
    entry = json.loads(written)
    assert entry == {
        "time": entry["time"],
        "level": "info",
        "logger": "function.fail",
        "message": "it broke",
        "function": "fail",
        "request_id": "r-42",
        "stream": "stderr",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(entry["time"]))


def test_json_has_no_raw_control_characters_or_ansi_escapes() -> None:
    out = io.StringIO()
    message = "\x1b[31mred\x1b[0m and a\ttab"
    TextStreamLogLines("json", "INFO", stream=out).emit("INFO", "function.x", message, FIELDS)
    [written] = lines_of(out)
    assert "\x1b" not in written
    assert "\t" not in written
    assert json.loads(written)["message"] == message


def test_lines_below_the_level_are_left_out() -> None:
    out = io.StringIO()
    log = TextStreamLogLines("text", "warning", stream=out)
    log.emit("INFO", "function.x", "quiet", {})
    log.emit("WARNING", "function.x", "loud", {})
    log.emit("ERROR", "function.x", "louder", {})
    assert [text.rsplit(": ", 1)[1] for text in lines_of(out)] == ["loud", "louder"]
    assert not log.enabled("INFO")
    assert log.enabled("WARNING")


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(
    "secret", ["hunter2-password", 'with "quotes" inside', "back\\slash\\secret"]
)
def test_revealed_secret_values_are_masked(log_format: str, secret: str) -> None:
    revealed = RevealedSecrets()
    revealed.add(secret)
    out = io.StringIO()
    log = TextStreamLogLines(log_format, "INFO", stream=out, revealed=revealed)  # type: ignore[arg-type]
    log.emit("INFO", "function.x", f"the password is {secret}!", {"request_id": "r-1"})
    written = out.getvalue()
    assert "***" in written
    assert secret not in written
    if log_format == "json":
        escaped = json.dumps(secret)[1:-1]
        assert escaped not in written
        assert json.loads(written)["message"] == "the password is ***!"


async def test_lines_are_written_in_batches() -> None:
    """Lines wait up to FLUSH_DELAY_S and go out in one write; a full batch goes at once."""
    out = CountingStream()
    log = TextStreamLogLines("text", "INFO", stream=out)
    for n in range(50):
        log.emit("INFO", "function.x", f"line {n}", {})
    await asyncio.sleep(0)
    assert out.getvalue() == ""  # buffered for a moment, not written line by line
    await asyncio.sleep(FLUSH_DELAY_S * 2)
    assert out.writes == 1
    assert [text.rsplit(": ", 1)[1] for text in lines_of(out)] == [f"line {n}" for n in range(50)]
    for n in range(FLUSH_LINES):
        log.emit("INFO", "function.x", f"burst {n}", {})
    assert out.writes == 2  # a full batch does not wait
    await asyncio.sleep(FLUSH_DELAY_S * 2)
    assert out.writes == 2  # and leaves no empty write behind


async def test_flush_writes_what_is_pending_now() -> None:
    out = io.StringIO()
    log = TextStreamLogLines("text", "INFO", stream=out)
    log.emit("INFO", "function.x", "now", {})
    log.flush()
    assert lines_of(out)[0].endswith(": now")


def test_a_closed_stream_loses_lines_without_raising() -> None:
    out = io.StringIO()
    out.close()
    TextStreamLogLines("text", "INFO", stream=out).emit("INFO", "function.x", "lost", {})
