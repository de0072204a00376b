"""``docs/how-to/aws-tools.md`` runs as written: the handler and config it declares are
served, boto3, the AWS CLI (through ``AWS_ENDPOINT_URL_LAMBDA`` and ``--endpoint-url``) and
the invocations CLI reach it, and each prints what the page says."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.docs.support import PageRun
from tests.support import wait_until

PAGE = "docs/how-to/aws-tools.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        page.save("handlers.py")
        page.toml()
        page.sh()  # lockgate serve
        printed = await page.python()
        assert printed == "{'a': 1}\nSTART\n"
        listed = page.sh()
        assert '"FunctionName": "echo"' in listed.stdout
        # The last command is the Event invocation: a 202 with an empty payload.
        assert '"StatusCode": 200' in listed.stdout
        assert '"StatusCode": 202' in listed.stdout
        assert (tmp_path / "out.json").read_text() == ""
        assert page.gateway is not None
        with httpx.Client(base_url=page.gateway.url, headers=page.gateway.admin_headers) as http:

            def the_event_ran() -> bool:
                runs = http.get("/invocations").json()["invocations"]
                return bool(runs) and all(i["status"] == "succeeded" for i in runs)

            wait_until(the_event_ran)
        dead = page.sh()
        assert dead.stderr == "no dead Event invocations\n" * 2
        shown = page.sh()
        assert '"StatusCode": 200' in shown.stdout
        assert shown.stdout.endswith('\n{"b":2}')
        page.done()
