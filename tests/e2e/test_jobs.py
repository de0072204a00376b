"""Jobs through a real gateway process: ``POST /jobs`` starts a declared job as a local
process, ``GET /jobs/{id}`` follows it to DONE or ERROR, ``lockgate jobs`` does the same."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx

from tests.e2e.gateway_process import GatewayProcess
from tests.support import wait_until


def finished(client: httpx.Client, run_id: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        found: dict[str, Any] = client.get(f"/jobs/{run_id}").json()
        return found

    wait_until(lambda: run()["status"] in ("DONE", "ERROR"))
    return run()


def test_a_job_runs_to_done(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"job": "report", "parameters": {"day": "mon"}})

    assert response.status_code == 201, response.text
    run = finished(client, response.json()["run_id"])
    assert (run["status"], run["exit_code"]) == ("DONE", 0)
    assert run["parameters"] == {"day": "mon"}


def test_a_failing_job_is_error_with_its_reason(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"job": "report", "parameters": {"exit": "3"}})

    run = finished(client, response.json()["run_id"])
    assert (run["status"], run["exit_code"]) == ("ERROR", 3)
    assert "exit status 3" in run["message"]


def test_an_unknown_job_is_404(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"job": "nope", "parameters": {}})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "JobNotFound"


def test_the_cli_submits_and_waits(gateway: GatewayProcess) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockgate",
            "jobs",
            "submit",
            "report",
            "--param",
            "day=tue",
            "--wait",
            "--json",
            "--url",
            gateway.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "DONE"
