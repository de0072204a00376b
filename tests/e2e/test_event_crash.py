"""Durable events survive a kill -9 between publish and delivery.

A sender module publishes 50 events (each recorded before ``publish`` returns); the
receiver's deliveries all hang until a gate file exists, so when the gateway is killed every
one of them is pending. A gateway restarted on the same SQLite file delivers all 50: none is
lost, and the receiver sees each event id (at-least-once, so duplicates would be allowed, but
the ids let a handler drop them).
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_until

EVENTS_APP = Path(__file__).parent / "events_app" / "lockgate.toml"
COUNT = 50


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {
        "LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path}/runs.sqlite3",
        "LOCKGATE_NODE_ID": "events-node",
        # A killed gateway's claims lapse after delivery_timeout + 5 s.
        "LOCKGATE_EVENT_DELIVERY_TIMEOUT": "2",
        "EVENTS_LOG": str(tmp_path / "delivered.log"),
        "EVENTS_GATE": str(tmp_path / "gate"),
    }


def delivered(environment: dict[str, str]) -> list[tuple[int, str, int]]:
    """(pid, event_id, n) for every delivery the receiver logged."""
    log = Path(environment["EVENTS_LOG"])
    if not log.exists():
        return []
    rows = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
    return [(int(pid), event_id, int(n)) for pid, event_id, n in rows]


def test_events_pending_at_a_kill_are_delivered_after_the_restart(
    environment: dict[str, str],
) -> None:
    with GatewayProcess(EVENTS_APP, env=environment) as first:
        response = httpx.post(
            f"{first.url}/workflows/publish/runs", json={"parameters": {"count": COUNT}}, timeout=60
        )
        assert response.status_code == 200, response.text
        run = response.json()
        assert run["status"] == "completed", run["error"]
        published = run["result"]["publish"]["event_ids"]
        assert len(set(published)) == COUNT
        first.send_signal(signal.SIGKILL)  # every delivery is pending behind the gate
        first.wait(10)
    assert delivered(environment) == []

    Path(environment["EVENTS_GATE"]).touch()
    with GatewayProcess(EVENTS_APP, env=environment) as second:
        wait_until(lambda: len(delivered(environment)) >= COUNT)
        rows = delivered(environment)
        assert {event_id for _, event_id, _ in rows} == set(published)
        assert {n for _, _, n in rows} == set(range(COUNT))
        assert {pid for pid, _, _ in rows} == {second.pid}

        def completed() -> int:
            found = httpx.get(f"{second.url}/events/deliveries?status=completed&limit=1000")
            return len(found.json()["deliveries"])

        wait_until(lambda: completed() == COUNT)
