"""The ``lockgate`` command line.

Every command is imported lazily (``LazyGroup``): ``lockgate --help`` and ``--version``
load typer alone, and a command loads only what it needs. Help is click's plain text
(``rich_markup_mode=None``): typer's rich help alone takes longer to import than a newcomer
should wait for ``--help``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lockgate.controllers.cli.lazy import LazyCommand, LazyGroup

__all__ = ["COMMANDS", "app", "main"]

_CLI = "lockgate.controllers.cli"
# name -> where the command lives and its line in `lockgate --help`.
COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        f"{_CLI}.project.init:init",
        "Make a new project: a function, a route, a workflow, a module, tests.",
    ),
    "serve": LazyCommand(
        f"{_CLI}.serve:serve",
        "Serve the functions, routes and workflows declared in a lockgate.toml.",
    ),
    "invoke": LazyCommand(
        f"{_CLI}.functions.invoke:invoke",
        "Invoke a function once and print its result (and its log tail on stderr).",
    ),
    "functions": LazyCommand(
        f"{_CLI}.functions.listing:functions_app", "List and describe a gateway's functions."
    ),
    "generate-event": LazyCommand(
        f"{_CLI}.functions.generate_event:generate_event_app",
        "Print a sample event in the shape an AWS service sends it to a function.",
    ),
    "run": LazyCommand(
        f"{_CLI}.runs:run", "Run a workflow, showing its steps' progress, and print its result."
    ),
    "check": LazyCommand(
        f"{_CLI}.check:check",
        "Check a config: every problem at once, then the modules' import boundaries.",
    ),
    "logs": LazyCommand(
        f"{_CLI}.logs:logs",
        "Print what functions wrote (stdout, stderr, and Lambda's START/END/REPORT lines).",
    ),
    "runs": LazyCommand(f"{_CLI}.runs:runs_app", "List, show and cancel workflow runs."),
    "secrets": LazyCommand(
        f"{_CLI}.secrets.commands:secrets_app",
        "Manage the secrets functions read: values are encrypted at rest and never printed.",
    ),
    "jobs": LazyCommand(
        f"{_CLI}.jobs:jobs_app",
        "Start, watch, list and cancel runs of the jobs declared in lockgate.toml (jobs.NAME).",
    ),
    "invocations": LazyCommand(
        f"{_CLI}.invocations:invocations_app",
        "List, show and re-drive Event invocations (dead ones: those that failed on every "
        "attempt).",
    ),
    "events": LazyCommand(f"{_CLI}.events:events_app", "Durable events between modules."),
    "tokens": LazyCommand(
        f"{_CLI}.credentials.tokens:tokens_app",
        "Manage the bearer tokens callers present (stored hashed; shown once).",
    ),
    "api-keys": LazyCommand(
        f"{_CLI}.credentials.api_keys:api_keys_app",
        "Manage the API keys routes with api_key_required take (stored hashed; shown once).",
    ),
}


class _Commands(LazyGroup):
    lazy = COMMANDS


app = typer.Typer(
    help="Lockgate: functions, workflows and modules behind one gateway.",
    no_args_is_help=True,
    cls=_Commands,
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        import importlib.metadata  # noqa: PLC0415 - ~60 ms that --help need not pay

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


def main() -> None:
    app()
