"""``lockgate logs``: what functions printed, from a running gateway, as ``sam logs`` and
``aws logs tail`` show it.

Reads the gateway's per-function buffer (the latest ``function_log_lines`` lines of each
function) over ``GET /functions/{name}/logs`` (or ``/functions/logs`` for every function);
``--follow`` keeps printing new lines as they come, until Ctrl-C. Exit codes are those of
:mod:`lockgate.controllers.cli.gateway_client`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import typer

from lockgate.controllers.cli.gateway_client import (
    DEFAULT_URL,
    EXIT_INTERRUPTED,
    JsonOption,
    TokenOption,
    UrlOption,
    gateway,
)

__all__ = ["logs"]


def logs(
    function: Annotated[
        str | None, typer.Argument(help="The function; every function's when left out.")
    ] = None,
    *,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines as they come.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Only lines from this long ago (10m, 2h, 1d) or this ISO time on."),
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Only one invocation's lines.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="At most this many earlier lines.")
    ] = 1000,
    json_output: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Print what functions wrote (stdout, stderr, and Lambda's START/END/REPORT lines)."""
    path = f"/functions/{quote(function, safe='')}/logs" if function else "/functions/logs"
    params = {"since": _local(since), "request_id": request_id, "limit": limit}
    with gateway(url, token) as client:
        if not follow:
            for line in client.call("GET", path, params=params)["lines"]:
                _print(line, json_output, show_function=function is None)
            return
        try:
            for line in client.stream(path, params={**params, "follow": "true"}):
                _print(line, json_output, show_function=function is None)
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None


def _local(since: str | None) -> str | None:
    """A time without an offset is the user's local time: the gateway, which may sit in
    another zone, is sent it with the offset spelled out."""
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        return since  # a duration (10m) or epoch seconds: the gateway reads those itself
    return moment.astimezone().isoformat() if moment.tzinfo is None else since


def _print(line: dict[str, Any], json_output: bool, *, show_function: bool) -> None:
    if json_output:
        import json  # noqa: PLC0415

        typer.echo(json.dumps(line))
        return
    if "lost" in line:
        typer.secho(f"... {line['lost']} lines lost (the output outran this terminal)", err=True)
        return
    moment = datetime.fromtimestamp(float(line.get("time", 0))).astimezone()
    stamp = moment.isoformat(timespec="milliseconds")
    who = f"{line.get('function')} " if show_function else ""
    text = f"{stamp} {who}{line.get('request_id', '-')} {line.get('message', '')}"
    typer.secho(text, fg=typer.colors.RED if line.get("stream") == "stderr" else None)
