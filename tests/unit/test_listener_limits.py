"""The listener's bookkeeping: connection slots, the once-a-minute offence log, the
open-file limit and the connection budget it leaves."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from lockgate.controllers.http.listener.limits import (
    ConnectionSlots,
    ListenerLimits,
    OffenceLog,
    connection_budget,
)

LOGGER = "tests.listener_limits"


def test_slots_cap_each_address_and_the_total() -> None:
    slots = ConnectionSlots(per_client=2, total=3)
    assert slots.acquire("a") is None
    assert slots.acquire("a") is None
    assert slots.acquire("a") == "max_connections_per_client"
    assert slots.acquire("b") is None
    assert slots.acquire("c") == "max_connections"
    assert (slots.open, slots.held_by("a"), slots.held_by("b")) == (3, 2, 1)
    slots.release("a")
    assert slots.acquire("c") is None


def test_slots_forget_an_address_that_holds_none() -> None:
    slots = ConnectionSlots(per_client=5, total=5)
    slots.acquire("a")
    slots.release("a")
    assert slots.held_by("a") == 0
    with pytest.raises(KeyError):
        slots.release("a")  # a release without its acquire is a bug, not a no-op


def test_the_first_offence_is_logged_and_the_rest_summarised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = OffenceLog(logging.getLogger(LOGGER), window=60)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        log.record("10.0.0.1", "header_timeout", "closed: headers too slow", now=0)
        for second in range(1, 30):
            log.record("10.0.0.1", "header_timeout", "closed: headers too slow", now=second)
        log.record("10.0.0.1", "max_connections_per_client", "refused", now=30)
        log.flush(now=59)
        assert len(caplog.records) == 1
        log.flush(now=60)
    assert [record.getMessage() for record in caplog.records] == [
        "client 10.0.0.1: closed: headers too slow",
        "client 10.0.0.1: 30 more in the last 60 s "
        "(header_timeout x29, max_connections_per_client x1)",
    ]


def test_a_quiet_address_is_forgotten_and_logged_afresh_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = OffenceLog(logging.getLogger(LOGGER), window=60)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        log.record("10.0.0.1", "431", "first", now=0)
        log.flush(now=61)
        assert len(log) == 0
        log.record("10.0.0.1", "431", "again", now=62)
    assert [record.getMessage() for record in caplog.records] == [
        "client 10.0.0.1: first",
        "client 10.0.0.1: again",
    ]


def test_addresses_past_the_cap_are_counted_together(caplog: pytest.LogCaptureFixture) -> None:
    log = OffenceLog(logging.getLogger(LOGGER), window=60, max_addresses=2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for i in range(100):
            log.record(f"10.0.1.{i}", "header_timeout", "slow", now=0)
    assert len(log) == 3
    assert len(caplog.records) == 3
    assert caplog.records[-1].getMessage() == f"client {OffenceLog.OTHERS}: slow"


@pytest.mark.parametrize(
    ("requested", "limit", "budget"),
    [
        (4096, 1_048_576, 4096),  # plenty: the setting stands
        (4096, 20_000, 4096),
        (4096, 1024, 768),  # a common default: a quarter kept for workers and stores
        (100, 1024, 100),
        (4096, 256, 128),  # a tiny limit: half of it
        (4096, 2, 1),  # never none at all
    ],
)
def test_the_connection_budget_leaves_room_under_the_open_file_limit(
    requested: int, limit: int, budget: int
) -> None:
    assert connection_budget(requested, limit) == budget


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    # In a child process: the test run's own limits stay as they are.
    script = (
        "import json, resource\n"
        "from lockgate.controllers.http.listener.limits import raise_open_file_limit\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "files = raise_open_file_limit()\n"
        "print(json.dumps([files.before, files.soft, files.hard, files.error,\n"
        "                  resource.getrlimit(resource.RLIMIT_NOFILE)[0]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    before, soft, hard, error, now = json.loads(done.stdout)
    assert (before, soft, error, now) == (256, hard, None, hard)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"ListenerLimits\.max_headers must be positive, got 0"):
        ListenerLimits(max_headers=0)


@pytest.mark.parametrize(
    ("header", "body", "interval"),
    [(10, 30, 1.0), (1, 1, 0.25), (0.1, 30, 0.05), (3600, 3600, 1.0)],
)
def test_the_sweep_is_a_quarter_of_the_shorter_timeout_within_bounds(
    header: float, body: float, interval: float
) -> None:
    limits = ListenerLimits(header_timeout=header, body_timeout=body)
    assert limits.sweep_interval == interval
