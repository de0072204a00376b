"""``lockgate jobs``: start runs of declared jobs, watch them, list, show and cancel them.

Every command calls a running gateway's jobs API (``--url`` / ``LOCKGATE_URL``, with
``--token`` / ``LOCKGATE_ADMIN_TOKEN`` when it has an admin token). Exit codes are those of
:mod:`lockgate.controllers.cli.gateway_client`; ``submit --wait`` exits 0 when the run is ``DONE``
and 1 when it ends ``ERROR``. Results go to stdout, notices and errors to stderr:
``RUN=$(lockgate jobs submit report)`` and ``lockgate jobs list --json | jq`` work.
"""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table
from rich.text import Text

from lockgate.controllers.cli.gateway_client import (
    DEFAULT_URL,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    Gateway,
    JsonOption,
    TokenOption,
    UrlOption,
    ago,
    fail,
    gateway,
    table,
    when,
)
from lockgate.controllers.cli.params import BadInputError, parse_assignments
from lockgate.controllers.cli.render import (
    echo_json,
    format_seconds,
    run_duration,
    stderr,
    stdout,
)

__all__ = ["jobs_app"]

_STYLE = {"QUEUED": "dim", "RUNNING": "yellow", "DONE": "green", "ERROR": "red"}
_FINISHED = frozenset(("DONE", "ERROR"))
# Between looks at a run being waited for: quick at first, then at most every 2 s.
_FIRST_POLL, _MAX_POLL = 0.2, 2.0

jobs_app = typer.Typer(
    help="Start, watch, list and cancel runs of the jobs declared in lockgate.toml (jobs.NAME).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _path(run_id: str, suffix: str = "") -> str:
    return f"/jobs/{quote(run_id, safe='')}{suffix}"


def _status(status: Any) -> Text:
    return Text(str(status), style=_STYLE.get(str(status), ""))


def _show(console: Console, run: dict[str, Any]) -> None:
    """The run's fields, one per line, then its parameters."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("run", escape(str(run.get("run_id"))))
    grid.add_row("job", escape(str(run.get("job"))))
    grid.add_row("status", _status(run.get("status")))
    exit_code = run.get("exit_code")
    grid.add_row("exit code", "-" if exit_code is None else str(exit_code))
    grid.add_row("runner id", escape(str(run.get("external_id") or "-")))
    grid.add_row("created", when(run.get("created_at")))
    grid.add_row("finished", when(run.get("finished_at")))
    grid.add_row("duration", run_duration(run.get("created_at"), run.get("finished_at")))
    if run.get("message"):
        style = "red" if run.get("status") == "ERROR" else ""
        grid.add_row("message", Text(str(run["message"]), style=style))
    parameters = run.get("parameters") or {}
    for index, (name, value) in enumerate(sorted(parameters.items())):
        grid.add_row("parameters" if index == 0 else "", Text(f"{name}={value}"))
    console.print(grid)


def _took(run: dict[str, Any]) -> str:
    """How long it ran, or has been running."""
    created, finished = run.get("created_at"), run.get("finished_at")
    if not isinstance(created, int | float):
        return ""
    end = finished if isinstance(finished, int | float) else time.time()
    return format_seconds(max(0.0, end - created))


def _runs_table(runs: list[dict[str, Any]], width: int) -> Table:
    rows = [
        [
            Text(str(run.get("run_id"))),
            Text(str(run.get("job"))),
            _status(run.get("status")),
            Text(ago(run.get("created_at"))),
            Text(_took(run)),
            Text(str(run.get("message") or "")),
        ]
        for run in runs
    ]
    # No exit code: the message says it (``exit status 3: ...``), show and --json have it.
    headers = ("run", "job", "status", "created", "duration", "message")
    return table(headers, rows, width, right=("duration",), flexible=("job",))


# -- submit --------------------------------------------------------------------------------


def _wait(client: Gateway, run: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Looks at the run until it finished; unless ``quiet``, a spinner on stderr says
    where it stands."""
    delay = _FIRST_POLL
    label = f"run {escape(str(run['run_id']))} of {escape(str(run['job']))}"
    spinner: contextlib.AbstractContextManager[Status | None] = (
        contextlib.nullcontext()
        if quiet
        else stderr().status(f"{label}: {run['status']}", spinner="dots")
    )
    with spinner as status:
        while run.get("status") not in _FINISHED:
            time.sleep(delay)
            delay = min(delay * 1.5, _MAX_POLL)
            run = client.call("GET", _path(str(run["run_id"])))
            if status is not None:
                status.update(f"{label}: {run.get('status')}")
    return run


def _report(run: dict[str, Any], waited: bool, as_json: bool) -> NoReturn:
    status = run.get("status")
    if as_json:
        echo_json(run)
    elif not waited:
        typer.echo(run["run_id"])
        stderr().print(
            f"run {escape(str(run['run_id']))} of job {escape(str(run['job']))} is "
            f"{status}; `lockgate jobs show {escape(str(run['run_id']))}` follows it"
        )
    else:
        _show(stdout(), run)
        took = run_duration(run.get("created_at"), run.get("finished_at"))
        if status == "DONE":
            stderr().print(f"[green]run {escape(str(run['run_id']))} done[/] in {took}")
        else:
            message = run.get("message") or "no reason given"
            typer.secho(f"run {run['run_id']} failed: {message}", fg=typer.colors.RED, err=True)
    if waited and status != "DONE":
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(EXIT_OK)


@jobs_app.command("submit")
def submit(
    job: Annotated[
        str, typer.Argument(help="The job to run (a jobs.NAME table of lockgate.toml).")
    ],
    *,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="K=V",
            help="A parameter (repeatable); values stay text. A local run sees each as "
            "LOCKGATE_JOB_PARAM_<K>.",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the run finished: exit 0 DONE, 1 ERROR.")
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Start a run of a job and print its id (or, with --wait, how it ended)."""
    try:
        parameters = dict(parse_assignments(param or (), "--param"))
    except BadInputError as exc:
        fail(exc.message, EXIT_BAD_INPUT)
    run: dict[str, Any] | None = None
    try:
        with gateway(url, token) as client:
            run = client.call("POST", "/jobs", body={"job": job, "parameters": parameters})
            if wait:
                run = _wait(client, run, quiet=as_json)
    except KeyboardInterrupt:
        if run is None:
            fail(
                f"interrupted; a run may have started (`lockgate jobs list --job {job}`)",
                EXIT_INTERRUPTED,
            )
        fail(
            f"stopped waiting; run {run['run_id']} goes on (`lockgate jobs show "
            f"{run['run_id']}`, `lockgate jobs cancel {run['run_id']}`)",
            EXIT_INTERRUPTED,
        )
    except typer.Exit as exc:
        if exc.exit_code == EXIT_UNREACHABLE and run is not None:
            typer.echo(
                f"lockgate: run {run['run_id']} may still be running; `lockgate jobs show "
                f"{run['run_id']}` once the gateway answers again",
                err=True,
            )
        raise
    _report(run, wait, as_json)


# -- list, show, cancel --------------------------------------------------------------------


@jobs_app.command("list")
def list_runs(
    *,
    job: Annotated[str | None, typer.Option(help="Only this job's runs.")] = None,
    unfinished: Annotated[
        bool, typer.Option("--unfinished", help="Only runs not finished (QUEUED, RUNNING).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many runs.")] = 100,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """List job runs, newest first."""
    query = {"job": job, "unfinished": "true" if unfinished else None, "limit": limit}
    with gateway(url, token) as client:
        runs: list[dict[str, Any]] = client.call("GET", "/jobs", params=query)["runs"]
    if as_json:
        echo_json({"runs": runs})
        return
    if not runs:
        which = " unfinished" if unfinished else ""
        stderr().print(f"no{which} job runs" + (f" of job {escape(repr(job))}" if job else ""))
        return
    console = stdout()
    console.print(_runs_table(runs, console.width))
    if len(runs) == limit:
        stderr().print(f"[dim]{len(runs)} runs shown; older ones with a larger --limit[/]")


@jobs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Show a run: its status, exit code, message and parameters."""
    with gateway(url, token) as client:
        run = client.call("GET", _path(run_id))
    if as_json:
        echo_json(run)
    else:
        _show(stdout(), run)


@jobs_app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    reason: Annotated[
        str | None, typer.Option(help="Why; kept as the run's message.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Stop a run that has not finished (exit 1 if it already had)."""
    body = {} if reason is None else {"reason": reason}
    # 409: the run had already finished; nothing was wrong with the request, but the
    # cancel did not happen.
    with gateway(url, token, conflict=EXIT_FAILED) as client:
        run = client.call("POST", _path(run_id, "/cancel"), body=body)
    if as_json:
        echo_json(run)
        return
    stderr().print(f"[magenta]run {escape(str(run['run_id']))} cancelled[/]")
    _show(stdout(), run)
