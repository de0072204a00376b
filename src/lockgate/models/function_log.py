"""What a function wrote, line by line: the gateway's log shows it, ``lockgate logs`` reads it.

A worker sends an invocation's output as raw bytes (what ``LogType=Tail`` returns) with its
``runs``: ``[stream, length, stream, length, ...]`` saying which bytes came from which stream
(0: Lambda's own START/END/REPORT lines, 1: stdout, 2: stderr). ``output_lines`` cuts them
into lines, each tagged with its stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["STREAM_NAMES", "FunctionLogLine", "output_lines"]

STREAM_NAMES = ("platform", "stdout", "stderr")
_PLATFORM_PREFIXES = (b"START RequestId: ", b"END RequestId: ", b"REPORT RequestId: ")
_MAX_LINE_CHARS = 16 * 1024


class FunctionLogLine(NamedTuple):
    """One line of a function's output.

    Attributes:
        time: When the gateway received it (seconds since the epoch).
        function: The function's name.
        request_id: The invocation's request id.
        stream: ``platform`` (START/END/REPORT), ``stdout`` or ``stderr``.
        message: The line, without its line break (cut at 16 KiB).
    """

    time: float
    function: str
    request_id: str
    stream: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "time": self.time,
            "function": self.function,
            "request_id": self.request_id,
            "stream": self.stream,
            "message": self.message,
        }


def output_lines(data: bytes, runs: Sequence[int] = ()) -> list[tuple[str, str]]:
    """``(stream, line)`` for every line of ``data``; blank lines are left out.

    Without ``runs`` (a backend that cannot tell the streams apart, such as AWS Lambda's
    log tail), a line is ``platform`` when it starts as Lambda's own lines do, else
    ``stdout``.
    """
    if not data:
        return []
    if not runs:
        return [
            ("platform" if line.startswith(_PLATFORM_PREFIXES) else "stdout", _text(line))
            for line in data.splitlines()
            if line.strip()
        ]
    lines: list[tuple[str, str]] = []
    offset = 0
    for index in range(0, len(runs) - 1, 2):
        stream, length = runs[index], runs[index + 1]
        name = STREAM_NAMES[stream] if 0 <= stream < len(STREAM_NAMES) else "stdout"
        lines += _tagged(name, data[offset : offset + length])
        offset += length
    if offset < len(data):  # bytes the runs do not cover: still shown, never lost
        lines += _tagged("stdout", data[offset:])
    return lines


def _tagged(stream: str, data: bytes) -> list[tuple[str, str]]:
    return [(stream, _text(line)) for line in data.splitlines() if line.strip()]


def _text(line: bytes) -> str:
    text = line.decode(errors="replace").rstrip("\r")
    return text if len(text) <= _MAX_LINE_CHARS else text[: _MAX_LINE_CHARS - 1] + "…"
