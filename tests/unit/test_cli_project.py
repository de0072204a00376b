"""``lockgate init``, ``serve`` without a config, and ``invoke``'s checks of its input:
each bad start is one line naming what was wrong, exit code 2, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lockgate.controllers.cli.main import app
from lockgate.controllers.cli.project.init import project_files


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, with no config named in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOCKGATE_CONFIG", raising=False)
    return tmp_path


def lockgate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_serve_without_a_config_says_so_and_how_to_make_one(folder: Path) -> None:
    result = lockgate("serve")
    assert result.exit_code == 2
    assert f"nothing to serve: no lockgate.toml in {folder}" in result.stderr
    assert "lockgate init DIR" in result.stderr
    assert "--config" in result.stderr
    assert list(folder.iterdir()) == []


def test_init_makes_every_file_of_the_project_and_says_how_to_serve_it(folder: Path) -> None:
    result = lockgate("init", "shop")
    assert result.exit_code == 0, result.output
    made = {str(p.relative_to(folder / "shop")) for p in (folder / "shop").rglob("*")}
    assert set(project_files("shop")) <= made
    assert {"lockgate.toml", "handlers.py", "workflows.py", "greetings/services.py"} <= made
    assert {"tests/test_handlers.py", "tests/test_workflows.py", "tests/test_modules.py"} <= made
    assert (folder / "shop" / "README.md").read_text().startswith("# shop\n")
    event = json.loads((folder / "shop" / "events" / "hello.json").read_text())
    assert event["routeKey"] == "GET /hello/{name}"
    assert event["pathParameters"] == {"name": "ann"}
    assert "cd shop\n  lockgate serve" in result.stdout
    assert not any(path.endswith(".tmpl") for path in made)


def test_init_overwrites_nothing(folder: Path) -> None:
    (folder / "handlers.py").write_text("mine")
    result = lockgate("init")
    assert result.exit_code == 2
    assert f"{folder} already has handlers.py; nothing was written" in result.stderr
    assert [p.name for p in folder.iterdir()] == ["handlers.py"]
    assert (folder / "handlers.py").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--payload", "{}", "--event", "e.json"], "--event FILE or --payload JSON, not both"),
        (["--payload", "{"], "--payload is not JSON: Expecting property name"),
        (["--event", "missing.json"], "cannot read --event missing.json: [Errno 2]"),
        (["--event", "bad.json"], "--event bad.json is not JSON: Expecting value"),
        (["--local"], "--local needs a config: no lockgate.toml in"),
    ],
)
def test_invoke_names_the_bad_input(folder: Path, args: list[str], message: str) -> None:
    (folder / "bad.json").write_text("not json")
    result = lockgate("invoke", "hello", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_invoke_local_names_the_functions_a_config_declares(folder: Path) -> None:
    assert lockgate("init").exit_code == 0
    result = lockgate("invoke", "helo", "--local")
    assert result.exit_code == 2
    assert "no function 'helo' in lockgate.toml (functions: hello)" in result.stderr
