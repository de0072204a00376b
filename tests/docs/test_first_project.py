"""``docs/tutorials/first-project.md`` followed from an empty folder: ``lockgate init``,
``lockgate serve`` with no ``--config`` (it serves the folder's), curl, ``lockgate invoke``
through the gateway and ``--local``, ``lockgate functions list``, ``lockgate run``,
``lockgate generate-event``, and the project's own tests, each printing what the page says."""

from __future__ import annotations

from pathlib import Path

from tests.docs.tutorial_support import Tutorial, runnable

PAGE = "tutorials/first-project.md"


def test_the_first_project_tutorial_runs_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "first"
    folder.mkdir()
    with Tutorial(PAGE, folder, env={"COLUMNS": "100"}) as tutorial:
        ran = tutorial.follow()
    assert ran == runnable(PAGE) == 8
    assert (folder / "cy.json").is_file()
