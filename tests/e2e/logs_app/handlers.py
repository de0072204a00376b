"""Handlers whose output the function-log tests look for in the gateway's log."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


def _param(event: Any, name: str) -> str | None:
    """``name`` from an Invoke API payload or from a route's query string."""
    if not isinstance(event, dict):
        return None
    value = event.get(name) or (event.get("queryStringParameters") or {}).get(name)
    return str(value) if value is not None else None


def speak(event: Any, context: Any) -> Any:
    """One line on stdout, one on stderr, each naming the caller's marker."""
    marker = _param(event, "marker") or "none"
    print(f"to stdout {marker}")
    print(f"to stderr {marker}", file=sys.stderr)
    return {"request_id": context.aws_request_id}


def fail(event: Any, context: Any) -> Any:
    print(f"about to fail {_param(event, 'marker')}")
    raise ValueError("boom")


def gated(event: Any, context: Any) -> Any:
    """Prints, waits until the test creates the file ``gate`` names (proof that the first
    line was seen while this ran), sleeps half a second, prints again."""
    marker = _param(event, "marker")
    gate = Path(_param(event, "gate") or "/nonexistent")
    print(f"first line {marker}", flush=True)
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing claim
    while not gate.exists():
        if time.monotonic() > deadline:
            return {"gate": "never opened"}
        time.sleep(0.01)
    time.sleep(0.5)
    print(f"second line {marker}", flush=True)
    return {"gate": "opened"}


def many(event: Any, context: Any) -> Any:
    """A hundred numbered lines at once."""
    marker = _param(event, "marker")
    for number in range(100):
        print(f"line {number} {marker}")
    return {"printed": 100}
