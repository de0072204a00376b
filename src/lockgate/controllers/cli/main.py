"""The ``lockgate`` command line."""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Annotated

import typer

from lockgate.controllers.cli.check import check
from lockgate.controllers.cli.credentials.api_keys import api_keys_app
from lockgate.controllers.cli.credentials.tokens import tokens_app
from lockgate.controllers.cli.events import events_app
from lockgate.controllers.cli.invocations import invocations_app
from lockgate.controllers.cli.jobs import jobs_app
from lockgate.controllers.cli.logs import logs
from lockgate.controllers.cli.runs import run, runs_app
from lockgate.controllers.cli.secrets.commands import secrets_app
from lockgate.controllers.cli.serve import serve

__all__ = ["app", "main"]

app = typer.Typer(
    help="Lockgate: functions, workflows and modules behind one gateway.", no_args_is_help=True
)


def _print_version(asked: bool) -> None:
    if asked:
        python = ".".join(map(str, sys.version_info[:3]))
        typer.echo(f"lockgate {importlib.metadata.version('lockgate')} (Python {python})")
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print Lockgate's version and exit.",
        ),
    ] = False,
) -> None:
    """Lockgate's commands."""


app.command("serve")(serve)
app.command("run")(run)
app.command("check")(check)
app.command("logs")(logs)
app.add_typer(runs_app, name="runs")
app.add_typer(secrets_app, name="secrets")
app.add_typer(jobs_app, name="jobs")
app.add_typer(invocations_app, name="invocations")
app.add_typer(events_app, name="events")
app.add_typer(tokens_app, name="tokens")
app.add_typer(api_keys_app, name="api-keys")


def main() -> None:
    app()
