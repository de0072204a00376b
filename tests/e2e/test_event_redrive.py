"""Dead event deliveries re-driven through a served gateway: the receiver fails while its
gate is closed, so with one attempt allowed every delivery dies; an operator shows one
(with its event's data) and re-drives it over HTTP, then the rest with ``lockgate events
deliveries redrive --all``, and each is delivered once the gate is open.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from lockgate.controllers.cli.main import app
from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_for, wait_until

EVENTS_APP = Path(__file__).parent / "events_app" / "lockgate.toml"

runner = CliRunner()


def deliveries(gateway: GatewayProcess, status: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{gateway.url}/events/deliveries",
        params={"status": status},
        headers=gateway.admin_headers,
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found


def lockgate(gateway: GatewayProcess, *args: str) -> Any:
    result = runner.invoke(
        app, [*args, "--url", gateway.url, "--token", gateway.admin_token, "--json"], env={}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dead_deliveries_are_shown_and_redriven_over_http_and_the_cli(tmp_path: Path) -> None:
    environment = {
        "LOCKGATE_RUN_STORE": f"sqlite:///{tmp_path}/runs.sqlite3",
        "LOCKGATE_EVENT_MAX_ATTEMPTS": "1",
        "EVENTS_LOG": str(tmp_path / "delivered.log"),
        "EVENTS_GATE": str(tmp_path / "gate"),
        "EVENTS_GATE_RAISES": "1",
    }
    with GatewayProcess(EVENTS_APP, env=environment) as gateway:
        run = httpx.post(
            f"{gateway.url}/workflows/publish/runs",
            json={"parameters": {"count": 3}},
            headers=gateway.admin_headers,
            timeout=60,
        ).json()
        assert run["status"] == "completed", run
        dead = wait_for(lambda: deliveries(gateway, "dead"), lambda d: len(d) == 3, guard=30)
        first = dead[0]
        assert first["id"] == f"{first['event_id']}:{first['subscriber']}"
        assert "gate closed for ping" in first["error"]
        assert "data" not in first  # listing shows no payloads

        url = f"{gateway.url}/events/deliveries/{first['id']}"
        assert httpx.get(url).status_code == 401  # operators only
        shown = httpx.get(url, headers=gateway.admin_headers).json()
        assert (shown["status"], shown["attempts"], shown["data"]) == ("dead", 1, {"n": 0})
        assert lockgate(gateway, "events", "deliveries", "show", first["id"])["data"] == {"n": 0}

        Path(environment["EVENTS_GATE"]).touch()
        answer = httpx.post(f"{url}/redrive", headers=gateway.admin_headers)
        assert answer.json() == {"redriven": [first["id"]]}
        wait_until(lambda: len(deliveries(gateway, "completed")) == 1)
        again = httpx.post(f"{url}/redrive", headers=gateway.admin_headers)
        assert again.status_code == 409  # completed: not dead

        redriven = lockgate(gateway, "events", "deliveries", "redrive", "--all")
        assert sorted(redriven["redriven"]) == sorted(d["id"] for d in dead[1:])
        wait_until(lambda: len(deliveries(gateway, "completed")) == 3)
        assert deliveries(gateway, "dead") == []
        listed = lockgate(gateway, "events", "deliveries", "list", "--status", "completed")
        assert [d["attempts"] for d in listed["deliveries"]] == [1, 1, 1]
