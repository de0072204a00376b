"""The README's five-minute tour runs as written, from a folder holding the checkout's
``examples/hello``: ``./dev serve`` (the same ``lockgate serve`` of the example), a route
with curl, the Invoke API with boto3, a workflow run started with curl and read back with
the CLI and the client SDK, each printing what the README says. The README stays a front
door: at most 150 lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.docs.pages import ROOT
from tests.docs.support import PageRun

PAGE = "README.md"


def test_the_readme_is_a_front_door() -> None:
    assert len((ROOT / PAGE).read_text(encoding="utf-8").splitlines()) <= 150


async def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "hello", tmp_path / "examples" / "hello")
    with PageRun(PAGE, tmp_path) as page:
        page.sh()  # ./dev serve
        answer = json.loads(page.sh().stdout)
        assert answer["message"] == "hello, world!"
        assert (answer["path"], answer["query"]) == ("/hello/world", {"lang": "en"})
        assert await page.python() == "hello, world!\n"
        listed = page.sh()
        run = json.loads((tmp_path / "run.json").read_text())
        assert run["status"] == "completed"
        [row] = [line.split() for line in listed.stdout.splitlines() if run["run_id"] in line]
        assert row[:3] == [run["run_id"], "pipeline", "completed"]
        assert await page.python() == "completed {'loaded': 1, 'active': 1}\n"
        page.done()
