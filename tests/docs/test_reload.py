"""``docs/how-to/reload.md`` runs as written: a real ``lockgate serve --reload``, a handler
and a workflow edited with ``sed`` and answering with the new code, a route added to
``lockgate.toml``, and the log lines the page shows."""

from __future__ import annotations

from pathlib import Path

from tests.docs.support import PageRun
from tests.support import wait_for, wait_until

PAGE = "docs/how-to/reload.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path, env={"LOCKGATE_LOG_LEVEL": "INFO"}) as page:
        page.save("handlers.py")
        page.save("flows.py")
        page.toml()
        page.sh()  # lockgate serve --reload
        assert page.gateway is not None
        gateway = page.gateway
        wait_until(lambda: b"watching" in gateway.read_output(), what="the watch")
        before = page.sh()
        assert before.stdout == "{\"greeting\":\"hello\"}\n{'welcome': {'text': 'hello, ann'}}\n"
        page.sh()  # sed
        lines = (
            b"INFO lockgate.reload [-]: reloaded function greet (handlers.py changed)",
            b"INFO lockgate.reload [-]: reloaded workflow welcome as version 2 (flows.py changed)",
        )
        wait_for(
            gateway.read_output,
            lambda log: all(line in log for line in lines),
            what="the two reloads in the log",
        )
        after = page.sh()
        assert after.stdout == (
            "{\"greeting\":\"bonjour\"}\n{'welcome': {'text': 'bonjour, ann'}}\n"
        )
        page.sh()  # a route added to lockgate.toml
        wait_until(
            lambda: b"lockgate.toml: 1 functions, 2 routes" in gateway.read_output(),
            what="the config's reload",
        )
        assert b"INFO lockgate.application [-]: reloaded " in gateway.read_output()
        assert page.sh().stdout == '{"greeting":"bonjour"}'
        page.done()
