"""``docs/how-to/aws-lambda-and-batch.md`` runs as written: its AWS tables load as
``lockgate.toml`` files (the gateway's AWS adapters are tested against moto in
``tests/e2e``), and its local job is served, run with the CLI and started over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from tests.docs.support import PageRun

PAGE = "docs/how-to/aws-lambda-and-batch.md"
ADMIN = "an-admin-token-for-the-docs-test"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path, env={"LOCKGATE_ADMIN_TOKEN": ADMIN}) as page:
        (tmp_path / "aws").mkdir()
        page.toml("aws/lockgate.toml")
        page.save("report.py")
        page.toml()
        page.sh()  # lockgate serve
        ran = page.sh()
        assert "DONE" in ran.stdout + ran.stderr
        started = page.sh()
        run = json.loads(started.stdout)
        assert (run["job"], run["parameters"]) == ("nightly-report", {"day": "2026-11-23"})
        (tmp_path / "batch").mkdir()
        page.toml("batch/lockgate.toml")
        page.done()
