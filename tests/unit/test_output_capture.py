"""The worker's ``OutputCapture``, in a process of its own (it takes over fds 1 and 2):
each byte keeps its stream, the tail is bounded, and a long invocation's output goes live."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

PRELUDE = """
import json, os, sys, threading
from lockgate.worker.capture import OutputCapture
report = os.fdopen(os.dup(1), "w")  # the real stdout, before the capture takes fd 1
live_calls = []
went = threading.Event()
def live(data, runs):
    live_calls.append([data.decode(), runs])
    went.set()
def done(**fields):
    report.write(json.dumps(fields))
    report.flush()
"""


def run(body: str) -> dict[str, Any]:
    """Run ``body`` after the prelude in a fresh interpreter; what it passed to ``done``."""
    script = PRELUDE + textwrap.dedent(body)
    finished = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr.decode()
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


def test_stdout_and_stderr_keep_their_streams_including_raw_fd_writes() -> None:
    got = run(
        """
        capture = OutputCapture(65536)
        capture.begin(b"START\\n")
        print("from print")
        print("to stderr", file=sys.stderr)
        os.write(1, b"raw one\\n")
        os.write(2, b"raw two\\n")
        data, runs, dropped, went_live = capture.collect()
        done(data=data.decode(), runs=runs, dropped=dropped, went_live=went_live)
        """
    )
    assert got["dropped"] == 0
    assert got["went_live"] is False
    data, runs = got["data"], got["runs"]
    # Cut data by the runs: every byte is covered, and each piece is one stream's.
    assert sum(runs[1::2]) == len(data.encode())
    pieces: dict[int, str] = {1: "", 2: ""}
    offset = 0
    for stream, length in zip(runs[::2], runs[1::2], strict=True):
        pieces[stream] += data.encode()[offset : offset + length].decode()
        offset += length
    assert pieces[1].splitlines() == ["from print", "raw one"]
    assert pieces[2].splitlines() == ["to stderr", "raw two"]


def test_only_the_tail_is_kept_and_the_rest_is_counted() -> None:
    got = run(
        """
        capture = OutputCapture(100)
        capture.begin(b"")
        for n in range(100):
            print(f"line {n:03d}")
        data, runs, dropped, went_live = capture.collect()
        done(data=data.decode(), runs=runs, dropped=dropped)
        """
    )
    assert len(got["data"]) == 100
    assert got["dropped"] == 100 * len("line 000\n") - 100
    assert got["data"].endswith("line 099\n")
    assert got["runs"] == [1, 100]


def test_collect_takes_only_what_was_written_since_the_last_call() -> None:
    got = run(
        """
        capture = OutputCapture(65536)
        capture.begin(b"")
        print("first")
        first = capture.collect()[0].decode()
        capture.begin(b"")
        print("second")
        second = capture.collect()[0].decode()
        done(first=first, second=second)
        """
    )
    assert got == {"first": "first\n", "second": "second\n"}


def test_a_quick_invocation_sends_nothing_live() -> None:
    got = run(
        """
        capture = OutputCapture(65536, live)
        capture.begin(b"START\\n")
        print("quick")
        data, runs, dropped, went_live = capture.collect()
        done(data=data.decode(), went_live=went_live, live_calls=live_calls)
        """
    )
    assert got == {"data": "quick\n", "went_live": False, "live_calls": []}


def test_a_long_invocations_output_goes_live_after_its_head() -> None:
    got = run(
        """
        capture = OutputCapture(65536, live)
        capture.begin(b"START\\n")
        print("early")
        print("early err", file=sys.stderr)
        # Still running past LIVE_AFTER_S: the drain thread hands the output on.
        assert went.wait(60), "no live output"
        live_calls_before = list(live_calls)
        print("late")
        data, runs, dropped, went_live = capture.collect()
        done(before=live_calls_before, after=live_calls, data=data.decode(), runs=runs,
             went_live=went_live)
        """
    )
    [[first_data, first_runs]] = got["before"][:1]
    assert first_data.startswith("START\nearly\n")
    assert first_runs[:4] == [0, len("START\n"), 1, len("early\n")]
    # Whatever went live, nothing went twice, and collect returns the rest, after the head.
    live_text = "".join(data for data, _ in got["after"])
    assert live_text.count("START\n") == 1
    assert (live_text + got["data"]).splitlines() == ["START", "early", "early err", "late"]
    assert got["went_live"] is True
    assert sum(got["runs"][1::2]) == len(got["data"])


def test_the_next_invocation_starts_quiet_again() -> None:
    got = run(
        """
        capture = OutputCapture(65536, live)
        capture.begin(b"START 1\\n")
        print("slow")
        assert went.wait(60), "no live output"
        capture.collect()
        count = len(live_calls)
        capture.begin(b"START 2\\n")
        print("fast")
        data, runs, dropped, went_live = capture.collect()
        done(data=data.decode(), went_live=went_live, new_live=live_calls[count:])
        """
    )
    assert got == {"data": "fast\n", "went_live": False, "new_live": []}
