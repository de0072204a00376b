"""``lockgate invocations``: list, show and re-drive ``Event`` (asynchronous) invocations.

Every command calls a running gateway's Event invocations API (``--url`` /
``LOCKGATE_URL``, with ``--token`` / ``LOCKGATE_ADMIN_TOKEN`` when it has an admin token).
Exit codes are those of :mod:`lockgate.controllers.cli.gateway_client`; ``redrive`` exits 1 when an
invocation it was asked to queue again is not dead (or unknown). Results go to stdout,
notices and errors to stderr. The commands' bodies are ``dead_letters``' (shared with
``lockgate events deliveries``).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer
from rich.text import Text

from lockgate.controllers.cli.dead_letters import (
    QueueApi,
    error_text,
    list_items,
    redrive_items,
    show_item,
    status_text,
)
from lockgate.controllers.cli.gateway_client import (
    DEFAULT_URL,
    JsonOption,
    TokenOption,
    UrlOption,
    when,
)

__all__ = ["invocations_app"]

invocations_app = typer.Typer(
    help="List, show and re-drive Event invocations (dead ones: those that failed on every "
    "attempt).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class StatusChoice(enum.StrEnum):
    QUEUED = "queued"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


def _show(invocation: dict[str, Any]) -> list[tuple[str, Text | str]]:
    function = str(invocation.get("function"))
    if invocation.get("qualifier"):
        function += f":{invocation['qualifier']}"
    rows: list[tuple[str, Text | str]] = [
        ("request id", str(invocation.get("request_id"))),
        ("function", function),
        ("status", status_text(invocation.get("status"))),
        ("attempts", str(invocation.get("attempts", ""))),
        ("created", when(invocation.get("created_at"))),
    ]
    if invocation.get("status") == "queued":
        rows.append(("next attempt", when(invocation.get("next_attempt_at"))))
    else:
        rows.append(("finished", when(invocation.get("finished_at"))))
    if invocation.get("error"):
        rows.append(("error", Text(error_text(invocation["error"]), style="red")))
    return rows


API = QueueApi(
    path="/invocations",
    listed="invocations",
    id_field="request_id",
    ids_field="request_ids",
    group="function",
    noun="invocation",
    plural="Event invocations",
    columns=(
        ("function", lambda i: Text(str(i.get("function")))),
        ("status", lambda i: status_text(i.get("status"))),
        ("tries", lambda i: Text(str(i.get("attempts", "")))),
        ("error", lambda i: Text(error_text(i.get("error")))),
    ),
    show=_show,
    payload=lambda i: (i.get("payload"), i.get("payload_encoding") == "json"),
)


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
    value = status.value if status else None
    list_items(
        API, status=value, group=function, limit=limit, as_json=as_json, url=url, token=token
    )


@invocations_app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="The request id the 202 answered with.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Show one Event invocation: its state, attempts, last error and payload."""
    show_item(API, request_id, as_json=as_json, url=url, token=token)


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
    redrive_items(
        API, request_ids, every=every, group=function, as_json=as_json, url=url, token=token
    )
