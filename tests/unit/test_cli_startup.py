"""``lockgate --help`` loads no command: the commands are imported when they run, so help
and ``--version`` answer at once (before, every command's imports cost over a second)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main

from lockgate.controllers.cli.lazy import load
from lockgate.controllers.cli.main import COMMANDS, app

# What the commands import: the server, the database drivers, HTTP clients, rich, pydantic.
HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "asyncpg",
    "redis",
    "nats",
    "boto3",
    "httpx",
    "pydantic",
    "rich",
    "lockgate.bootstrap",
)

_PROBE = """
import json, sys
from lockgate.controllers.cli.main import main
sys.argv = ["lockgate", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = json.loads(sys.stdin.read())
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in heavy
                        or name in heavy)))
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["runs", "--help"]])
def test_help_and_version_import_none_of_the_commands_dependencies(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    if args == ["runs", "--help"]:  # the client's own imports, never the server's
        loaded = [n for n in loaded if n.split(".")[0] not in ("rich", "httpx", "pydantic")]
    assert loaded == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_commands_line_in_the_listing_is_its_own_help(name: str) -> None:
    command = load(name, COMMANDS[name].target)
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == COMMANDS[name].summary


def test_the_listing_names_every_command_in_order() -> None:
    group = typer.main.get_command(app)
    assert group.list_commands(typer.Context(group)) == list(COMMANDS)  # type: ignore[attr-defined]
