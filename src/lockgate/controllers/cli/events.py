"""``lockgate events deliveries``: list, show and re-drive durable event deliveries.

Every command calls a running gateway's event deliveries API (``--url`` /
``LOCKGATE_URL``, with ``--token`` / ``LOCKGATE_ADMIN_TOKEN`` when it has an admin token:
listing needs ``ops:read``, showing and re-driving ``admin``). A delivery's id is
``event_id:subscriber``. The commands' bodies are ``dead_letters``' (shared with
``lockgate invocations``); exit codes and outputs are as there.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer
from rich.text import Text

from lockgate.controllers.cli.dead_letters import (
    QueueApi,
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

__all__ = ["events_app"]

events_app = typer.Typer(
    help="Durable events between modules.", no_args_is_help=True, rich_markup_mode=None
)
deliveries_app = typer.Typer(
    help="List, show and re-drive event deliveries (dead ones: those that failed on every "
    "attempt).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
events_app.add_typer(deliveries_app, name="deliveries")


class StatusChoice(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    DEAD = "dead"


def _show(delivery: dict[str, Any]) -> list[tuple[str, Text | str]]:
    rows: list[tuple[str, Text | str]] = [
        ("id", str(delivery.get("id"))),
        ("event", f"{delivery.get('event')} ({delivery.get('event_id')})"),
        ("from module", str(delivery.get("source_module"))),
        ("subscriber", str(delivery.get("subscriber"))),
        ("status", status_text(delivery.get("status"))),
        ("attempts", str(delivery.get("attempts", ""))),
        ("created", when(delivery.get("created_at"))),
    ]
    if delivery.get("status") == "pending":
        rows.append(("next attempt", when(delivery.get("next_attempt_at"))))
    if delivery.get("error"):
        rows.append(("error", Text(str(delivery["error"]), style="red")))
    return rows


API = QueueApi(
    path="/events/deliveries",
    listed="deliveries",
    id_field="id",
    ids_field="delivery_ids",
    group="subscriber",
    noun="delivery",
    plural="event deliveries",
    columns=(
        ("subscriber", lambda d: Text(str(d.get("subscriber")))),
        ("status", lambda d: status_text(d.get("status"))),
        ("tries", lambda d: Text(str(d.get("attempts", "")))),
        ("error", lambda d: Text(str(d.get("error") or ""))),
    ),
    show=_show,
    payload=lambda d: (d.get("data"), True) if "data" in d else None,
)


@deliveries_app.command("list")
def list_deliveries(
    *,
    status: Annotated[
        StatusChoice | None, typer.Option(help="Only deliveries in this state.")
    ] = None,
    subscriber: Annotated[str | None, typer.Option(help="Only this subscriber's.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many deliveries.")
    ] = 100,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """List event deliveries, oldest event first."""
    value = status.value if status else None
    list_items(
        API, status=value, group=subscriber, limit=limit, as_json=as_json, url=url, token=token
    )


@deliveries_app.command("show")
def show(
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id: event_id:subscriber.")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Show one event delivery: its state, attempts, last error and the event's data."""
    show_item(API, delivery_id, as_json=as_json, url=url, token=token)


@deliveries_app.command("redrive")
def redrive(
    delivery_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Dead deliveries to make pending again.", show_default=False),
    ] = None,
    *,
    every: Annotated[
        bool, typer.Option("--all", help="Every dead delivery (of --subscriber, if given).")
    ] = False,
    subscriber: Annotated[str | None, typer.Option(help="Only this subscriber's.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Make dead deliveries pending again, their attempts counted afresh."""
    redrive_items(
        API, delivery_ids, every=every, group=subscriber, as_json=as_json, url=url, token=token
    )
