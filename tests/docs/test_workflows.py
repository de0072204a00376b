"""``docs/tutorials/workflows.md`` followed start to finish from an empty folder, as a
newcomer would: the data, the webhook function, the workflow and ``lockgate.toml`` written as
the page says, a master key and a secret made with the CLI, a real ``lockgate serve``, runs
from the CLI and over HTTP, and the crash: the gateway killed with SIGKILL while ``notify``
runs, started again, and the run completed without ``fetch`` and ``summarise`` running again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.docs.tutorial_support import Tutorial, blocks, runnable

PAGE = "tutorials/workflows.md"


def test_the_workflows_tutorial_runs_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "report"
    folder.mkdir()
    killed_at: list[float] = []

    def note_the_kill(index: int, tutorial: Tutorial) -> None:
        if blocks(PAGE)[index].text.strip() == "kill -9 $!":
            killed_at.append(time.time())

    with Tutorial(
        PAGE,
        folder,
        env={"COLUMNS": "120"},  # a terminal wide enough for the page's tables
        # The first shows the run under way, the second the run finished after the restart.
        eventually={"lockgate runs show $RUN"},
        before_block=note_the_kill,
    ) as tutorial:
        ran = tutorial.follow()
        run_id = tutorial.env["RUN"]
        killed = tutorial.gateways[-2]
        # The run as the restarted gateway's store holds it, steps' timings included.
        shown = subprocess.run(
            [sys.executable, "-m", "lockgate", "runs", "show", run_id, "--json"],
            capture_output=True,
            text=True,
            env=tutorial.env,
            cwd=folder,
            check=True,
        )
    assert ran == runnable(PAGE) == 17
    assert killed.process.returncode == -9
    run = json.loads(shown.stdout)
    assert run["status"] == "completed"
    # fetch and summarise finished before the kill and were not run again; notify, running
    # at the kill (the page's first `runs show`), ran again in the restarted gateway.
    [kill] = killed_at
    steps = run["steps"]
    for name in ("fetch", "summarise"):
        assert steps[name]["attempts"] == 1, steps
        assert steps[name]["finished_at"] < kill, steps
    assert kill < steps["notify"]["started_at"], steps
    assert run["result"]["notify"]["authorization"] == "Bearer ***"
