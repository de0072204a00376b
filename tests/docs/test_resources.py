"""``docs/how-to/resources.md`` runs as written against the real PostgreSQL and Redis: the
shared resources and egress policy it declares load and are served, the secret it stores
opens the database, the curl run, the client SDK's inline reference and the Python
factory print what the page says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.docs.support import PageRun

PAGE = "docs/how-to/resources.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        page.toml()
        page.save("pipelines.py")
        page.sh()  # the master key and the secret
        page.sh()  # lockgate serve
        run = json.loads(page.sh().stdout)
        assert (run["status"], run["result"]) == ("completed", {"count": {"answer": 42}})
        assert await page.python() == "completed {'answer': 42}\n"
        assert await page.python() == "healthy healthy\n"
        page.done()
