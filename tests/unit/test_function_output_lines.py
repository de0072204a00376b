"""``output_lines``: a worker's raw output and its runs cut into ``(stream, line)``."""

from __future__ import annotations

from lockgate.models.function_log import STREAM_NAMES, FunctionLogLine, output_lines

START = b"START RequestId: r-1 Version: $LATEST\n"
END = b"END RequestId: r-1\n"
REPORT = b"REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 1 ms\n"


def test_stream_codes_name_platform_stdout_and_stderr_in_that_order() -> None:
    assert STREAM_NAMES == ("platform", "stdout", "stderr")


def test_runs_tag_each_line_with_the_stream_its_bytes_came_from() -> None:
    out, err = b"one\ntwo\n", b"oops\n"
    data = START + out + err + END + REPORT
    runs = [0, len(START), 1, len(out), 2, len(err), 0, len(END) + len(REPORT)]
    assert output_lines(data, runs) == [
        ("platform", "START RequestId: r-1 Version: $LATEST"),
        ("stdout", "one"),
        ("stdout", "two"),
        ("stderr", "oops"),
        ("platform", "END RequestId: r-1"),
        ("platform", "REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 1 ms"),
    ]


def test_with_runs_a_line_that_looks_like_a_platform_line_keeps_its_own_stream() -> None:
    # A handler printing "START RequestId: ..." must not pass for Lambda's own line.
    forged = b"START RequestId: forged\n"
    assert output_lines(forged, [1, len(forged)]) == [("stdout", "START RequestId: forged")]


def test_blank_and_whitespace_only_lines_are_left_out() -> None:
    data = b"\n  \nreal\n\t\n\r\nlast"
    assert output_lines(data, [2, len(data)]) == [("stderr", "real"), ("stderr", "last")]
    assert output_lines(data) == [("stdout", "real"), ("stdout", "last")]


def test_crlf_line_ends_are_cut_off() -> None:
    assert output_lines(b"dos\r\nline\r\n", [1, 11]) == [("stdout", "dos"), ("stdout", "line")]


def test_bytes_past_the_runs_are_still_shown_as_stdout() -> None:
    data = b"err\nextra one\nextra two\n"
    assert output_lines(data, [2, 4]) == [
        ("stderr", "err"),
        ("stdout", "extra one"),
        ("stdout", "extra two"),
    ]


def test_an_unknown_stream_code_reads_as_stdout() -> None:
    assert output_lines(b"x\n", [7, 2]) == [("stdout", "x")]


def test_without_runs_platform_lines_are_recognised_by_their_prefix() -> None:
    data = START + b"hello\nEND of story\n" + END + REPORT
    assert [stream for stream, _ in output_lines(data)] == [
        "platform",
        "stdout",
        "stdout",  # "END of story" is not "END RequestId: "
        "platform",
        "platform",
    ]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert output_lines(b"caf\xc3\n\xff\xfe\n", [1, 7]) == [
        ("stdout", "caf\ufffd"),
        ("stdout", "\ufffd\ufffd"),
    ]


def test_a_very_long_line_is_cut_with_an_ellipsis() -> None:
    [(stream, text)] = output_lines(b"x" * 100_000 + b"\n", [1, 100_001])
    assert stream == "stdout"
    assert len(text) == 16 * 1024
    assert text.endswith("…")


def test_no_output_gives_no_lines() -> None:
    assert output_lines(b"") == []
    assert output_lines(b"", [1, 0]) == []


def test_a_log_line_as_a_dict_carries_every_field() -> None:
    line = FunctionLogLine(12.5, "fn", "r-1", "stderr", "boom")
    assert line.to_dict() == {
        "time": 12.5,
        "function": "fn",
        "request_id": "r-1",
        "stream": "stderr",
        "message": "boom",
    }
