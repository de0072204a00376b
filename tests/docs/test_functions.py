"""``docs/tutorials/functions.md`` followed start to finish from an empty folder, as a
newcomer would: the handler and ``lockgate.toml`` written as the page says, a real
``lockgate serve``, curl, boto3 and the AWS CLI against it, restarts after each change of
the config, and every output the page shows checked."""

from __future__ import annotations

from pathlib import Path

from tests.docs.tutorial_support import Tutorial, runnable

PAGE = "tutorials/functions.md"


def test_the_functions_tutorial_runs_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "greeter"
    folder.mkdir()
    with Tutorial(
        PAGE,
        folder,
        env={"COLUMNS": "120"},  # a terminal wide enough for the page's table
        # Event invocations finish in the background, the dead one after its two retries.
        eventually={"lockgate invocations list"},
    ) as tutorial:
        ran = tutorial.follow()
        assert tutorial.gateway is not None
        log = tutorial.gateway.output()
    assert ran == runnable(PAGE) == 22
    made = {path.name for path in folder.iterdir()} - {"__pycache__"}
    assert made == {".lockgate", "handlers.py", "invoke.py", "lockgate.toml", "response.json"}
    # What the page says the gateway logs when a handler raises behind a route.
    assert "function fail raised ValueError: no such order; answering 502" in log
    assert "stderr: ValueError: no such order" in log  # the traceback, from its output
