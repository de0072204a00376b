"""``lockgate run`` and ``lockgate runs``: start, watch, list, show and cancel workflow runs.

Every command talks to a running gateway through :mod:`lockgate.client` (``--url``, or
``LOCKGATE_URL``), presenting ``--token`` / ``LOCKGATE_TOKEN`` (for a gateway on this
machine, its local admin token by default). Exit codes: 0 the run completed (or the
command did what it was asked), 1 the run failed or was cancelled (or was already finished
when asked to cancel), 2 bad input (no such workflow or run, invalid parameters, a
malformed option), 3 the gateway is unreachable, 130 interrupted (a run being watched goes
on).

Progress, notices and errors go to stderr, results to stdout: ``lockgate run W --json | jq``
and ``RUN=$(lockgate run W --no-wait)`` work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.markup import escape

from lockgate.client import Client, RunSummary, WorkflowResult
from lockgate.client.errors import ClientError, Conflict, GatewayUnavailable
from lockgate.controllers.cli.params import BadInputError, parse_context, parse_parameters
from lockgate.controllers.cli.render import (
    StepProgress,
    echo_json,
    jsonable,
    run_duration,
    runs_table,
    show_run,
    stderr,
    stdout,
)
from lockgate.controllers.cli.token import TokenOption, resolve_token

__all__ = ["run", "runs_app"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

DEFAULT_URL = "http://127.0.0.1:8000"
MAX_PAGE = 500  # the gateway's cap on ?limit=

T = TypeVar("T")

UrlOption = Annotated[
    str, typer.Option("--url", envvar="LOCKGATE_URL", help="The gateway's base URL.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON (for scripts).")]

runs_app = typer.Typer(
    help="List, show and cancel workflow runs.", no_args_is_help=True, rich_markup_mode=None
)


# -- errors --------------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    typer.secho(f"lockgate: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _call(url: str, work: Coroutine[Any, Any, T], *, conflict: int = EXIT_BAD_INPUT) -> T:
    """Runs ``work``; bad input and the client's errors become a message and an exit code
    (``conflict`` is the code for a 409)."""
    try:
        return asyncio.run(work)
    except BadInputError as exc:
        _fail(exc.message, EXIT_BAD_INPUT)
    except GatewayUnavailable as exc:
        # The transport's own error says refused, unresolvable or timed out; the client's
        # message around it repeats the URL.
        cause = exc.__cause__
        reason = exc.message if cause is None else f"{type(cause).__name__}: {cause}".rstrip(": ")
        _fail(
            f"cannot reach the gateway at {url} ({reason}); is `lockgate serve` running "
            "there? (--url or LOCKGATE_URL names another)",
            EXIT_UNREACHABLE,
        )
    except Conflict as exc:
        _fail(exc.message, conflict)
    except ClientError as exc:
        # 404 (no such workflow or run), 400/422 (invalid parameters or request): the
        # caller's input; a 5xx is the gateway's failure.
        status = exc.status if isinstance(exc.status, int) else 500
        _fail(exc.message, EXIT_BAD_INPUT if 400 <= status < 500 else EXIT_FAILED)


# -- lockgate run --------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _RunOptions:
    workflow: str
    params: list[str]
    params_json: str | None
    context: dict[str, str]
    idempotency_key: str | None
    wait: bool
    quiet: bool  # --json: no progress
    run_id: str | None = None  # set once the gateway has started the run


async def _start_and_watch(url: str, token: str | None, options: _RunOptions) -> WorkflowResult:
    async with Client(url, token=token) as client:
        # Described first: an unknown workflow fails before anything starts, and a
        # parameter declared ``str`` keeps its text.
        description = await client.describe_workflow(options.workflow)
        parameters = parse_parameters(
            options.params, options.params_json, description.get("parameters") or {}
        )
        started = await client.execute_workflow(
            options.workflow,
            parameters,
            None,
            options.context,
            idempotency_key=options.idempotency_key,
            wait=False,
        )
        options.run_id = started.run_id
        if not options.wait or started.status != "running":
            return started
        if options.quiet:
            return await client.wait_for_run(started.run_id)
        steps = [str(step["name"]) for step in description.get("steps") or ()]
        with StepProgress(stderr(), options.workflow, steps) as progress:
            progress.update(started)
            final = await client.wait_for_run(started.run_id, on_update=progress.update)
            progress.update(final)
        return final


def run(
    workflow: Annotated[str, typer.Argument(help="The workflow to run.")],
    *,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="K=V",
            help="A parameter (repeatable). The value is read as JSON if it parses "
            "(5, true, [1]) and as text otherwise, or when the parameter is declared str.",
        ),
    ] = None,
    params_json: Annotated[
        str | None,
        typer.Option("--params-json", metavar="JSON", help="Parameters as one JSON object."),
    ] = None,
    context: Annotated[
        list[str] | None,
        typer.Option("--context", "-c", metavar="K=V", help="A context variable (repeatable)."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Starts with the same key are one run: a retry gets it back."),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Print the run id and return at once.")
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Run a workflow, showing its steps' progress, and print its result."""
    try:
        # Checked before the gateway is asked anything: a typo fails fast, even offline.
        parse_parameters(param or (), params_json)
        options = _RunOptions(
            workflow=workflow,
            params=list(param or ()),
            params_json=params_json,
            context=parse_context(context or ()),
            idempotency_key=idempotency_key,
            wait=not no_wait,
            quiet=as_json,
        )
    except BadInputError as exc:
        _fail(exc.message, EXIT_BAD_INPUT)
    try:
        result = _call(url, _start_and_watch(url, resolve_token(token, url), options))
    except KeyboardInterrupt:
        _interrupted(options)
    except typer.Exit as exc:
        if exc.exit_code == EXIT_UNREACHABLE and options.run_id is not None:
            typer.echo(
                f"lockgate: run {options.run_id} may still be running; "
                f"`lockgate runs show {options.run_id}` once the gateway answers again",
                err=True,
            )
        raise
    _report(result, options)


def _interrupted(options: _RunOptions) -> NoReturn:
    if options.run_id is None:
        typer.echo(
            "lockgate: interrupted before the gateway answered; a run may have started "
            f"(`lockgate runs list --workflow {options.workflow}`)",
            err=True,
        )
    else:
        typer.echo(
            f"lockgate: stopped watching; run {options.run_id} continues on the gateway "
            f"(`lockgate runs show {options.run_id}`, `lockgate runs cancel {options.run_id}`)",
            err=True,
        )
    raise typer.Exit(EXIT_INTERRUPTED)


def _report(result: WorkflowResult, options: _RunOptions) -> NoReturn:
    if options.quiet:
        echo_json(result)
    elif not options.wait:
        typer.echo(result.run_id)
    elif result.status == "completed":
        took = run_duration(result.created_at, result.finished_at)
        stderr().print(f"[green]run {escape(result.run_id)} completed[/] in {took}")
        stdout().print_json(data=jsonable(result.result))
    else:
        outcome = "was cancelled" if result.status == "cancelled" else result.status
        message = f"run {result.run_id} {outcome}" + (f": {result.error}" if result.error else "")
        typer.secho(message, fg=typer.colors.RED, err=True)
    if not options.wait:
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(EXIT_OK if result.status == "completed" else EXIT_FAILED)


# -- lockgate runs -------------------------------------------------------------------------


class RunStatusChoice(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


async def _list(
    url: str,
    token: str | None,
    *,
    workflow: str | None,
    status: str | None,
    limit: int,
    every_page: bool,
) -> tuple[list[RunSummary], str | None]:
    runs: list[RunSummary] = []
    cursor: str | None = None
    async with Client(url, token=token) as client:
        while True:
            page = await client.list_runs(
                workflow=workflow, status=status, limit=limit, cursor=cursor
            )
            runs.extend(page.runs)
            cursor = page.next_cursor
            if not every_page or cursor is None:
                return runs, cursor


@runs_app.command("list")
def list_runs(
    *,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's runs.")] = None,
    status: Annotated[RunStatusChoice | None, typer.Option(help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE, help="Runs per page.")] = 50,
    every_page: Annotated[
        bool, typer.Option("--all", help="Follow the pages to the oldest run.")
    ] = False,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """List runs, newest first."""
    runs, cursor = _call(
        url,
        _list(
            url,
            resolve_token(token, url),
            workflow=workflow,
            status=status.value if status else None,
            limit=limit,
            every_page=every_page,
        ),
    )
    if as_json:
        echo_json({"runs": runs, "next_cursor": cursor})
        return
    if not runs:
        stderr().print("no runs" + (f" of workflow {escape(repr(workflow))}" if workflow else ""))
        return
    console = stdout()
    console.print(runs_table(runs, console.width))
    if cursor is not None:
        stderr().print(f"[dim]{len(runs)} runs shown; more with --all or a larger --limit[/]")


async def _get(url: str, token: str | None, run_id: str) -> WorkflowResult:
    async with Client(url, token=token) as client:
        return await client.get_run(run_id)


async def _cancel(url: str, token: str | None, run_id: str) -> WorkflowResult:
    async with Client(url, token=token) as client:
        return await client.cancel_run(run_id)


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Show a run: its state, its steps and its result."""
    result = _call(url, _get(url, resolve_token(token, url), run_id))
    if as_json:
        echo_json(result)
    else:
        show_run(stdout(), result)


@runs_app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Cancel a running run: steps in flight are cancelled and none starts again."""
    # 409: the run had already finished; nothing was wrong with the request, but the
    # cancel did not happen.
    result = _call(url, _cancel(url, resolve_token(token, url), run_id), conflict=EXIT_FAILED)
    if as_json:
        echo_json(result)
        return
    stderr().print(f"[magenta]run {escape(result.run_id)} cancelled[/]")
    show_run(stdout(), result)
