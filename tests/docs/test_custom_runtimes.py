"""``docs/how-to/custom-runtimes.md`` runs as written: the awslambdaric handler and the shell
``bootstrap`` it shows are served as ``runtime = "provided"`` functions and answer what the
page says."""

from __future__ import annotations

from pathlib import Path

from tests.docs.support import PageRun

PAGE = "docs/how-to/custom-runtimes.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        page.save("handlers.py")
        page.save("bootstrap", "sh")
        page.toml()
        page.sh()  # lockgate serve
        called = page.sh()
        assert called.stdout == '{"event": {"a": 1}, "function": "ric"}\n{"shell": {"a": 1}}'
        page.done()
