"""``docs/how-to/deployment.md`` runs as written: the function and ``[gateway]`` settings it
declares are served, the probes, a route's latency header and the metrics answer what the
page says, and the multi-node table loads (the PostgreSQL store itself is
tested by ``tests/e2e/test_crash_resume.py``, on a database of its own)."""

from __future__ import annotations

from pathlib import Path

from lockgate.config.settings import load_settings
from tests.docs.support import PageRun

PAGE = "docs/how-to/deployment.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        page.save("handlers.py")
        config = page.toml()
        settings, _ = load_settings(config)
        assert (settings.log_format, settings.run_retention) == ("json", 604800)
        page.sh()  # lockgate serve
        healthz, readyz, latency, counters = page.sh().stdout.splitlines()
        assert (healthz, readyz) == ('{"status":"ok"}', '{"status":"ready"}')
        assert latency.lower().startswith("x-lockgate-latency: ")
        assert int(counters) >= 1
        (tmp_path / "multi").mkdir()
        settings, _ = load_settings(page.toml("multi/lockgate.toml"))
        assert (settings.node_id, settings.run_lease) == ("gateway-a", 30)
        page.done()
