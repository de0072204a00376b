"""``parse_since``: how far back ``lockgate logs --since`` and ``?since=`` reach."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lockgate.controllers.http.function_logs_api import parse_since

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 7 * 86400),
        ("1.5h", 5400),
        (" 5 m ", 300),
        ("0s", 0),
    ],
)
def test_durations_reach_back_from_now(text: str, ago: float) -> None:
    assert parse_since(text, NOW) == NOW - ago


def test_epoch_seconds_are_taken_as_they_are() -> None:
    assert parse_since("1700000000", NOW) == 1_700_000_000.0
    assert parse_since("1700000000.5", NOW) == 1_700_000_000.5


@pytest.mark.parametrize(
    "text",
    ["2026-12-07T16:46:06+00:00", "2026-12-07T16:46:06Z", "2026-12-07T18:46:06+02:00"],
)
def test_iso_times_with_an_offset(text: str) -> None:
    assert parse_since(text, NOW) == datetime(2026, 12, 7, 16, 46, 6, tzinfo=UTC).timestamp()


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The gateway's own zone nine hours from UTC, so a wrong guess shows."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("far_from_utc")
def test_an_iso_time_without_an_offset_is_utc() -> None:
    expected = datetime(2026, 12, 7, 16, 46, 6, tzinfo=UTC).timestamp()
    assert parse_since("2026-12-07T16:46:06", NOW) == expected
    assert parse_since("2026-12-07 16:46:06", NOW) == expected
    assert parse_since("2026-12-07", NOW) == datetime(2026, 12, 7, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "text", ["yesterday", "10 minutes", "10x", "-", "", "nan", "inf", "2026-13-01T00:00:00"]
)
def test_anything_else_is_refused_with_the_forms_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration .* ISO 8601 time or seconds since"):
        parse_since(text, NOW)
