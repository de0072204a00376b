"""``lockgate invocations``: list, show and re-drive ``Event`` (asynchronous) invocations.

Every command calls a running gateway's Event invocations API (``--url`` /
``LOCKGATE_URL``, with ``--token`` / ``LOCKGATE_ADMIN_TOKEN`` when it has an admin token).
Exit codes are those of :mod:`lockgate.controllers.cli.gateway_client`; ``redrive`` exits 1 when an
invocation it was asked to queue again is not dead (or unknown). Results go to stdout,
notices and errors to stderr.
"""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lockgate.controllers.cli.gateway_client import (
    DEFAULT_URL,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    JsonOption,
    TokenOption,
    UrlOption,
    fail,
    gateway,
    table,
    when,
)
from lockgate.controllers.cli.render import echo_json, stderr, stdout

__all__ = ["invocations_app"]

_STYLE = {"queued": "yellow", "succeeded": "green", "dead": "red"}

invocations_app = typer.Typer(
    help="List, show and re-drive Event invocations (dead ones: those that failed on every "
    "attempt).",
    no_args_is_help=True,
)


class StatusChoice(enum.StrEnum):
    QUEUED = "queued"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


def _path(request_id: str, suffix: str = "") -> str:
    return f"/invocations/{quote(request_id, safe='')}{suffix}"


def _status(status: Any) -> Text:
    return Text(str(status), style=_STYLE.get(str(status), ""))


def _error_text(error: Any) -> str:
    """The function's error object (``{"errorType", "errorMessage"}``) in one line."""
    if not error:
        return ""
    try:
        loaded = json.loads(error)
    except (TypeError, ValueError):
        return str(error)
    if isinstance(loaded, dict) and "errorMessage" in loaded:
        kind = loaded.get("errorType")
        return f"{kind}: {loaded['errorMessage']}" if kind else str(loaded["errorMessage"])
    return str(error)


def _table(invocations: list[dict[str, Any]], width: int) -> Table:
    rows = [
        [
            Text(str(invocation.get("request_id"))),
            Text(str(invocation.get("function"))),
            _status(invocation.get("status")),
            Text(str(invocation.get("attempts", ""))),
            Text(_error_text(invocation.get("error"))),
        ]
        for invocation in invocations
    ]
    # Oldest first, so no creation time (show and --json have it): room for the error.
    headers = ("request id", "function", "status", "tries", "error")
    return table(headers, rows, width, right=("tries",), flexible=("function",))


def _show(console: Console, invocation: dict[str, Any]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("request id", escape(str(invocation.get("request_id"))))
    function = str(invocation.get("function"))
    if invocation.get("qualifier"):
        function += f":{invocation['qualifier']}"
    grid.add_row("function", escape(function))
    grid.add_row("status", _status(invocation.get("status")))
    grid.add_row("attempts", str(invocation.get("attempts", "")))
    grid.add_row("created", when(invocation.get("created_at")))
    if invocation.get("status") == "queued":
        grid.add_row("next attempt", when(invocation.get("next_attempt_at")))
    else:
        grid.add_row("finished", when(invocation.get("finished_at")))
    if invocation.get("error"):
        grid.add_row("error", Text(_error_text(invocation["error"]), style="red"))
    console.print(grid)
    console.print(Text("payload", style="bold"))
    payload = invocation.get("payload")
    if invocation.get("payload_encoding") == "json":
        console.print_json(data=payload)
    else:
        console.print(f"(base64) {payload}", soft_wrap=True, markup=False)


@invocations_app.command("list")
def list_invocations(
    *,
    status: Annotated[
        StatusChoice | None, typer.Option(help="Only invocations in this state.")
    ] = None,
    function: Annotated[str | None, typer.Option(help="Only this function's.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many invocations.")
    ] = 100,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """List Event invocations, oldest first."""
    query = {"status": status.value if status else None, "function": function, "limit": limit}
    with gateway(url, token) as client:
        found: list[dict[str, Any]] = client.call("GET", "/invocations", params=query)[
            "invocations"
        ]
    if as_json:
        echo_json({"invocations": found})
        return
    if not found:
        which = f" {status.value}" if status else ""
        of = f" of function {escape(repr(function))}" if function else ""
        stderr().print(f"no{which} Event invocations{of}")
        return
    console = stdout()
    console.print(_table(found, console.width))
    if len(found) == limit:
        stderr().print(f"[dim]{len(found)} invocations shown; more with a larger --limit[/]")


@invocations_app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="The request id the 202 answered with.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Show one Event invocation: its state, attempts, last error and payload."""
    with gateway(url, token) as client:
        invocation = client.call("GET", _path(request_id))
    if as_json:
        echo_json(invocation)
    else:
        _show(stdout(), invocation)


@invocations_app.command("redrive")
def redrive(
    request_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Dead invocations to queue again.", show_default=False),
    ] = None,
    *,
    every: Annotated[
        bool, typer.Option("--all", help="Every dead invocation (of --function, if given).")
    ] = False,
    function: Annotated[str | None, typer.Option(help="Only this function's.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Queue dead invocations again, their attempts counted afresh."""
    ids = list(dict.fromkeys(request_ids or ()))
    if not ids and not every:
        fail("name the invocations to re-drive, or pass --all for every dead one", EXIT_BAD_INPUT)
    if ids and every:
        fail("name invocations or pass --all, not both", EXIT_BAD_INPUT)
    # 409 (one invocation named, and it is not dead): the request was fine, the re-drive
    # did not happen.
    with gateway(url, token, conflict=EXIT_FAILED) as client:
        if len(ids) == 1 and function is None:
            answer = client.call("POST", _path(ids[0], "/redrive"))
        else:
            body = {"request_ids": ids or None, "function": function}
            answer = client.call("POST", "/invocations/redrive", body=body)
    redriven: list[str] = answer["redriven"]
    missed = [request_id for request_id in ids if request_id not in set(redriven)]
    if as_json:
        echo_json({"redriven": redriven, "not_redriven": missed})
    else:
        for request_id in redriven:
            typer.echo(request_id)
        if redriven:
            plural = "" if len(redriven) == 1 else "s"
            stderr().print(f"[green]{len(redriven)} invocation{plural} queued again[/]")
        elif every:
            of = f" of function {escape(repr(function))}" if function else ""
            stderr().print(f"no dead Event invocations{of}")
    if missed:
        reason = "not dead, unknown" + (f" or not of function {function!r}" if function else "")
        fail(f"not re-driven ({reason}): {', '.join(missed)}", EXIT_FAILED)
