"""``docs/how-to/logs.md`` runs as written: a function's printed lines and a handler's
traceback reach the gateway's log under the request id the caller got, with an access line;
``lockgate logs`` and the HTTP API read them back; the settings table loads."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lockgate.config.settings import load_settings
from tests.docs.support import PageRun
from tests.e2e.gateway_process import GatewayProcess

PAGE = "docs/how-to/logs.md"
ADMIN = "logs-page-admin-token-0123456789"


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    env = {"LOCKGATE_ADMIN_TOKEN": ADMIN, "LOCKGATE_LOG_LEVEL": "INFO"}
    with PageRun(PAGE, tmp_path, env=env) as page:
        page.save("handlers.py")
        page.toml()
        page.sh()  # lockgate serve
        assert page.sh().stdout.startswith("hi")
        assert page.gateway is not None
        log = _wait_for(page.gateway, "stderr: ValueError: no such order")
        said = next(line for line in log.splitlines() if "hello from" in line)
        hello_id = said.split("hello from ")[1].strip()
        for expected in (
            f"INFO function.hello [{hello_id}]: START RequestId: {hello_id}",
            f"INFO function.hello [{hello_id}] stderr: this goes to stderr",
            f"INFO function.hello [{hello_id}]: REPORT RequestId: {hello_id}",
            f"INFO lockgate.access [{hello_id}]: GET /hello 200",
            "function fail raised ValueError: no such order; answering 502",
        ):
            assert expected in log, expected
        printed = page.sh().stdout.splitlines()
        assert any(line.endswith(f"{hello_id} hello from {hello_id}") for line in printed)
        assert any("START RequestId" in line for line in printed)
        lines = json.loads(page.sh().stdout)["lines"]
        assert len(lines) == 3
        assert lines[-1]["message"].startswith("REPORT RequestId: ")
        assert lines[0]["message"] == "ValueError: no such order"
        assert lines[0]["stream"] == "stderr"
        assert lines[1]["message"] == "END RequestId: " + lines[1]["request_id"]
        (tmp_path / "settings").mkdir()
        settings, _ = load_settings(page.toml("settings/lockgate.toml"))
        assert (settings.access_log, settings.function_log_rate) == (True, 200)
        page.done()


def _wait_for(gateway: GatewayProcess, text: str) -> str:
    """The gateway's output once it holds ``text`` (its log lines are written in batches)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        output = gateway.read_output().decode(errors="replace")
        if text in output:
            return output
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the gateway's log:\n{output}")
