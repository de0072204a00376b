"""``docs/how-to/deployment.md`` runs as written: the config it declares passes ``lockgate
check`` and the same file with the page's three mistakes lists them as the page shows, the
function and ``[gateway]`` settings it declares are served, the probes, a route's latency
header and the metrics answer what the page says, and the multi-node table loads (the
PostgreSQL store itself is tested by ``tests/e2e/test_crash_resume.py``, on a database of
its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lockgate.config.settings import load_settings
from tests.docs.pages import blocks
from tests.docs.support import PageRun, lines_of

PAGE = "docs/how-to/deployment.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        page.save("handlers.py")
        config = page.toml()
        settings, _ = load_settings(config)
        assert (settings.log_format, settings.run_retention) == ("json", 604800)
        checked = page.sh()  # lockgate check
        assert "lockgate.toml: no config problems" in checked.stderr
        _check_the_mistakes_the_page_shows(config, tmp_path / "mistakes")
        page.sh()  # lockgate serve
        healthz, readyz, latency, counters = page.sh().stdout.splitlines()
        assert (healthz, readyz) == ('{"status":"ok"}', '{"status":"ready"}')
        assert latency.lower().startswith("x-lockgate-latency: ")
        assert int(counters) >= 1
        (tmp_path / "multi").mkdir()
        settings, _ = load_settings(page.toml("multi/lockgate.toml"))
        assert (settings.node_id, settings.run_lease) == ("gateway-a", 30)
        page.done()


def _check_the_mistakes_the_page_shows(config: Path, folder: Path) -> None:
    folder.mkdir()
    (folder / "handlers.py").write_text((config.parent / "handlers.py").read_text())
    text = config.read_text()
    for good, bad in [
        ('handler = "handlers:echo"', 'handler = "handlers:ecoh"'),
        ('function = "echo"', 'function = "ecoh"'),
        ("max_body_bytes = ", "max_body_byte = "),
    ]:
        assert good in text
        text = text.replace(good, bad)
    (folder / "lockgate.toml").write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "lockgate", "check", "--config", "lockgate.toml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=folder,
    )
    assert done.returncode == 2, done.stderr
    [shown] = [b.text for b in blocks(PAGE) if b.text.startswith("lockgate: lockgate.toml: 3")]
    assert lines_of(done.stderr) == lines_of(shown)
