"""``docs/how-to/secrets.md`` runs as written: a master key made and a secret stored with
the CLI, a gateway serving them, the secrets API answering what the page says (a write,
then 403 for a read), and a rotation with the gateway running, after which it still reads
and writes every secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.docs.support import PageRun

PAGE = "docs/how-to/secrets.md"


async def test_the_page_runs_as_written(tmp_path: Path) -> None:
    with PageRun(PAGE, tmp_path) as page:
        made = page.sh()
        assert "db_creds" in made.stdout
        assert "correct-horse-battery" not in made.stdout + made.stderr
        page.toml()
        page.sh()  # the admin token
        page.sh()  # lockgate serve
        first, status = page.sh().stdout.splitlines()
        assert json.loads(first)["name"] == "api_key"
        assert status == "403"
        page.sh()  # the rotation, the gateway running
        page.done()
        assert page.gateway is not None
        admin = {"Authorization": f"Bearer {page.env['LOCKGATE_ADMIN_TOKEN']}"}
        async with httpx.AsyncClient(base_url=page.gateway.url, headers=admin) as http:
            names = [s["name"] for s in (await http.get("/secrets")).json()["secrets"]]
            assert sorted(names) == ["api_key", "db_creds"]
            written = await http.put("/secrets/after", json={"value": "rotated-and-retired"})
            assert written.status_code == 200, written.text
