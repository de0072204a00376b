"""What ``lockgate invocations`` and ``lockgate events deliveries`` share: list, show and
re-drive the items of a gateway's leased queue through its operator API, described once
per queue by a ``QueueApi``.

Exit codes are those of :mod:`lockgate.controllers.cli.gateway_client`; ``redrive`` exits
1 when an item it was asked to queue again is not dead (or unknown). Results go to stdout,
notices and errors to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lockgate.controllers.cli.gateway_client import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    fail,
    gateway,
    table,
)
from lockgate.controllers.cli.render import echo_json, stderr, stdout

__all__ = ["QueueApi", "error_text", "list_items", "redrive_items", "show_item", "status_text"]

_STYLE = {
    "queued": "yellow",
    "pending": "yellow",
    "succeeded": "green",
    "completed": "green",
    "dead": "red",
}


@dataclass(frozen=True, slots=True)
class QueueApi:
    """One queue's operator API as the commands call it.

    Attributes:
        path: The collection (``/invocations``); items are ``path/ID``, the bulk re-drive
            ``path/redrive``.
        listed: The list answer's key (``invocations``).
        id_field: An item's id field (``request_id``).
        ids_field: The bulk re-drive's ids field (``request_ids``).
        group: The filter's name, as option and field (``function``).
        noun: One item in messages (``invocation``).
        plural: Them in messages (``Event invocations``).
        columns: The list's columns after the id, and how each reads an item.
        show: The rows ``show`` prints for an item, before its payload.
        payload: An item's payload and whether it is JSON (None: none to print).
    """

    path: str
    listed: str
    id_field: str
    ids_field: str
    group: str
    noun: str
    plural: str
    columns: tuple[tuple[str, Callable[[dict[str, Any]], Text]], ...]
    show: Callable[[dict[str, Any]], list[tuple[str, Text | str]]]
    payload: Callable[[dict[str, Any]], tuple[Any, bool] | None]

    def item_path(self, item_id: str, suffix: str = "") -> str:
        return f"{self.path}/{quote(item_id, safe='')}{suffix}"


def status_text(status: Any) -> Text:
    return Text(str(status), style=_STYLE.get(str(status), ""))


def error_text(error: Any) -> str:
    """An error in one line (a function's error object, ``{"errorType", "errorMessage"}``,
    as ``type: message``)."""
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


def list_items(
    api: QueueApi,
    *,
    status: str | None,
    group: str | None,
    limit: int,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """The ``list`` command: items oldest first, as a table or JSON."""
    query = {"status": status, api.group: group, "limit": limit}
    with gateway(url, token) as client:
        found: list[dict[str, Any]] = client.call("GET", api.path, params=query)[api.listed]
    if as_json:
        echo_json({api.listed: found})
        return
    if not found:
        which = f" {status}" if status else ""
        of = f" of {api.group} {escape(repr(group))}" if group else ""
        stderr().print(f"no{which} {api.plural}{of}")
        return
    console = stdout()
    headers = (api.id_field.replace("_", " "), *(name for name, _ in api.columns))
    rows = [
        [Text(str(item.get(api.id_field))), *(read(item) for _, read in api.columns)]
        for item in found
    ]
    # Oldest first, so no creation time (show and --json have it): room for the error.
    console.print(
        table(
            headers,
            rows,
            console.width,
            right=("tries",),
            flexible=(api.group,),
            folding=(headers[0],),
        )
    )
    if len(found) == limit:
        stderr().print(f"[dim]{len(found)} {api.noun}s shown; more with a larger --limit[/]")


def show_item(api: QueueApi, item_id: str, *, as_json: bool, url: str, token: str | None) -> None:
    """The ``show`` command: one item's state, attempts, last error and payload."""
    with gateway(url, token) as client:
        item = client.call("GET", api.item_path(item_id))
    if as_json:
        echo_json(item)
        return
    console: Console = stdout()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in api.show(item):
        grid.add_row(label, value if isinstance(value, Text) else escape(value))
    console.print(grid)
    shown = api.payload(item)
    if shown is None:
        return
    payload, is_json = shown
    console.print(Text("payload", style="bold"))
    if is_json:
        console.print_json(data=payload)
    else:
        console.print(f"(base64) {payload}", soft_wrap=True, markup=False)


def redrive_items(
    api: QueueApi,
    item_ids: list[str] | None,
    *,
    every: bool,
    group: str | None,
    as_json: bool,
    url: str,
    token: str | None,
) -> None:
    """The ``redrive`` command: queue dead items again, their attempts counted afresh."""
    ids = list(dict.fromkeys(item_ids or ()))
    if not ids and not every:
        fail(f"name the {api.noun}s to re-drive, or pass --all for every dead one", EXIT_BAD_INPUT)
    if ids and every:
        fail(f"name {api.noun}s or pass --all, not both", EXIT_BAD_INPUT)
    # 409 (one item named, and it is not dead): the request was fine, the re-drive did not
    # happen.
    with gateway(url, token, conflict=EXIT_FAILED) as client:
        if len(ids) == 1 and group is None:
            answer = client.call("POST", api.item_path(ids[0], "/redrive"))
        else:
            body = {api.ids_field: ids or None, api.group: group}
            answer = client.call("POST", f"{api.path}/redrive", body=body)
    redriven: list[str] = answer["redriven"]
    missed = [item_id for item_id in ids if item_id not in set(redriven)]
    if as_json:
        echo_json({"redriven": redriven, "not_redriven": missed})
    else:
        for item_id in redriven:
            typer.echo(item_id)
        if redriven:
            plural = "" if len(redriven) == 1 else "s"
            stderr().print(f"[green]{len(redriven)} {api.noun}{plural} queued again[/]")
        elif every:
            of = f" of {api.group} {escape(repr(group))}" if group else ""
            stderr().print(f"no dead {api.plural}{of}")
    if missed:
        of = f" or not of {api.group} {group!r}" if group else ""
        fail(f"not re-driven (not dead, unknown{of}): {', '.join(missed)}", EXIT_FAILED)
