"""``FunctionLogBuffer``: the latest lines per function, read with a ``LogQuery`` and
followed as they arrive."""

from __future__ import annotations

import asyncio

import pytest

from lockgate.models.function_log import FunctionLogLine
from lockgate.use_cases.functions import log_buffer as log_buffer_module
from lockgate.use_cases.functions.log_buffer import FunctionLogBuffer, LogQuery


def line(function: str, at: float, message: str, request_id: str = "r-1") -> FunctionLogLine:
    return FunctionLogLine(at, function, request_id, "stdout", message)


def messages(lines: list[FunctionLogLine]) -> list[str]:
    return [entry.message for entry in lines]


@pytest.fixture
def buffer() -> FunctionLogBuffer:
    kept = FunctionLogBuffer(100)
    kept.add("a", [line("a", 1.0, "a1", "r-a1"), line("a", 3.0, "a3", "r-a3")])
    kept.add("b", [line("b", 2.0, "b2", "r-b2"), line("b", 4.0, "b4", "r-b4")])
    kept.add("a", [line("a", 5.0, "a5", "r-a5")])
    return kept


def test_one_functions_lines_in_order(buffer: FunctionLogBuffer) -> None:
    assert messages(buffer.read(LogQuery("a"))) == ["a1", "a3", "a5"]
    assert messages(buffer.read(LogQuery("b"))) == ["b2", "b4"]


def test_every_functions_lines_oldest_first_across_functions(buffer: FunctionLogBuffer) -> None:
    assert messages(buffer.read(LogQuery())) == ["a1", "b2", "a3", "b4", "a5"]


def test_an_unknown_function_has_no_lines(buffer: FunctionLogBuffer) -> None:
    assert buffer.read(LogQuery("nobody")) == []


def test_since_keeps_lines_at_or_after_it(buffer: FunctionLogBuffer) -> None:
    assert messages(buffer.read(LogQuery(since=3.0))) == ["a3", "b4", "a5"]
    assert messages(buffer.read(LogQuery("b", since=2.5))) == ["b4"]
    assert buffer.read(LogQuery(since=99.0)) == []


def test_request_id_keeps_one_invocations_lines(buffer: FunctionLogBuffer) -> None:
    assert messages(buffer.read(LogQuery(request_id="r-b4"))) == ["b4"]
    assert buffer.read(LogQuery("a", request_id="r-b4")) == []


def test_limit_keeps_the_latest_still_oldest_first(buffer: FunctionLogBuffer) -> None:
    assert messages(buffer.read(LogQuery(limit=2))) == ["b4", "a5"]
    assert messages(buffer.read(LogQuery("a", limit=2))) == ["a3", "a5"]
    assert buffer.read(LogQuery(limit=0)) == []


def test_filters_combine(buffer: FunctionLogBuffer) -> None:
    assert messages(buffer.read(LogQuery("a", since=2.0, request_id="r-a5", limit=10))) == ["a5"]


def test_each_function_keeps_only_its_latest_lines() -> None:
    kept = FunctionLogBuffer(10)
    kept.add("a", [line("a", float(n), f"a{n}") for n in range(25)])
    kept.add("b", [line("b", 100.0, "b")])
    assert messages(kept.read(LogQuery("a"))) == [f"a{n}" for n in range(15, 25)]
    assert messages(kept.read(LogQuery("b"))) == ["b"]  # a's flood took none of b's room


def test_forget_drops_a_functions_lines(buffer: FunctionLogBuffer) -> None:
    buffer.forget("a")
    assert messages(buffer.read(LogQuery())) == ["b2", "b4"]


async def test_a_follower_gets_matching_lines_added_after_it_was_made(
    buffer: FunctionLogBuffer,
) -> None:
    follower = buffer.follow(LogQuery("a"))
    buffer.add("b", [line("b", 6.0, "b6")])
    buffer.add("a", [line("a", 7.0, "a7"), line("a", 8.0, "a8")])
    got = [await asyncio.wait_for(anext(follower), 10) for _ in range(2)]
    assert got == [line("a", 7.0, "a7"), line("a", 8.0, "a8")]  # not the backlog, not b's
    follower.close()


async def test_a_follower_by_request_id_across_functions() -> None:
    buffer = FunctionLogBuffer()
    follower = buffer.follow(LogQuery(request_id="wanted"))
    buffer.add("a", [line("a", 1.0, "other", "r-x"), line("a", 2.0, "yes a", "wanted")])
    buffer.add("b", [line("b", 3.0, "yes b", "wanted")])
    first = await asyncio.wait_for(anext(follower), 10)
    second = await asyncio.wait_for(anext(follower), 10)
    assert [first, second] == [line("a", 2.0, "yes a", "wanted"), line("b", 3.0, "yes b", "wanted")]


async def test_a_follower_that_falls_behind_is_told_how_many_lines_it_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log_buffer_module, "_FOLLOW_QUEUE", 3)
    buffer = FunctionLogBuffer()
    follower = buffer.follow(LogQuery())
    buffer.add("a", [line("a", float(n), f"a{n}") for n in range(10)])
    assert await asyncio.wait_for(anext(follower), 10) == 7
    got = [await asyncio.wait_for(anext(follower), 10) for _ in range(3)]
    assert got == [line("a", 0.0, "a0"), line("a", 1.0, "a1"), line("a", 2.0, "a2")]
    buffer.add("a", [line("a", 11.0, "a11")])
    assert await asyncio.wait_for(anext(follower), 10) == line("a", 11.0, "a11")
    # Every line is still in the buffer, whatever the follower lost.
    assert len(buffer.read(LogQuery("a"))) == 11


async def test_a_closed_follower_gets_nothing_more() -> None:
    buffer = FunctionLogBuffer()
    follower = buffer.follow(LogQuery())
    follower.close()
    buffer.add("a", [line("a", 1.0, "a1")])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(follower), 0.05)
