"""``lockgate init [DIR]``: a new project that ``lockgate serve`` serves at once.

The files come from ``template/`` beside this module (``.tmpl`` is dropped from a
name: the template's Python is not part of Lockgate's own code); ``events/hello.json`` is
made by the code behind ``lockgate generate-event``, so it is exactly what the route sends.
Nothing is overwritten: a file already there stops ``init`` before it writes anything.
Exit codes: 0 made, 2 a file in the way or a folder that cannot be written.
"""

from __future__ import annotations

import json
import shlex
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from lockgate.use_cases.invocations.sample_events import apigw

__all__ = ["init"]

_TEMPLATE = "template"
_RENAMED = {"gitignore": ".gitignore"}  # a dotfile would be skipped by some packagers


def _walk(folder: Traversable, prefix: str = "") -> dict[str, str]:
    """Every file of the template: its path in the project -> its text."""
    found: dict[str, str] = {}
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found |= _walk(entry, f"{prefix}{entry.name}/")
        else:
            name = _RENAMED.get(entry.name, entry.name.removesuffix(".tmpl"))
            found[f"{prefix}{name}"] = entry.read_text(encoding="utf-8")
    return found


def project_files(project: str) -> dict[str, str]:
    """The new project's files (relative path -> text), named after ``project``."""
    made = {
        path: text.replace("{{project}}", project)
        for path, text in _walk(
            files(__package__ or "lockgate.controllers.cli.project") / _TEMPLATE
        ).items()
    }
    event = apigw("2.0", path="/hello/ann", resource="/hello/{name}")
    made["events/hello.json"] = json.dumps(event, indent=2) + "\n"
    return dict(sorted(made.items()))


def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to make the project (made if missing).")
    ] = Path(),
) -> None:
    """Make a new project: a function, a route, a workflow, a module, tests."""
    target = directory.resolve()
    made = project_files(target.name or "project")
    in_the_way = sorted(path for path in made if (target / path).exists())
    if in_the_way:
        typer.secho(
            f"lockgate: {target} already has {', '.join(in_the_way)}; nothing was written "
            "(choose another folder, or move those files away)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    try:
        for path, text in made.items():
            file = target / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.secho(f"lockgate: cannot write the project in {target}: {exc}", err=True)
        raise typer.Exit(2) from None
    where = "" if target == Path.cwd() else f"cd {shlex.quote(str(directory))}\n  "
    typer.echo(f"Made a Lockgate project in {target}:")
    for path in made:
        typer.echo(f"  {path}")
    typer.echo(f"\nServe it:\n  {where}lockgate serve\nTest it:\n  python -m pytest")
