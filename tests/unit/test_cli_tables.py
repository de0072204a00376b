"""The CLI's list tables on a narrow console: ids a user copies into ``show`` or ``redrive``
are never cut, they wrap (an event delivery's id names its subscriber, so it is long); on a
wide console every row is one line, whole."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from lockgate.controllers.cli.gateway_client import table

DELIVERY = (
    "6620c0e5341fa202e14402ab814:notifications:therapy_session.scheduled:"
    "NotificationService.handle_session_scheduled"
)
HEADERS = ("id", "subscriber", "status", "tries", "error")
ROW = [
    Text(DELIVERY),
    Text(DELIVERY.split(":", 1)[1]),
    Text("dead"),
    Text("5"),
    Text("RuntimeError: the mail server refused the message " * 3),
]


def rendered(width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    console.print(
        table(HEADERS, [ROW], width, right=("tries",), flexible=("subscriber",), folding=("id",))
    )
    return out.getvalue().splitlines()


def test_on_a_narrow_console_the_id_wraps_whole_and_the_rest_still_shows() -> None:
    lines = rendered(80)
    assert all(len(line) <= 80 for line in lines)
    id_column = "".join(line.split(" ", 1)[0] for line in lines[2:])
    assert id_column == DELIVERY
    assert "dead" in lines[2]
    assert "5" in lines[2]


def test_on_a_wide_console_each_row_is_one_line() -> None:
    lines = rendered(400)
    assert len(lines) == 3
    assert DELIVERY in lines[2]
    assert lines[2].rstrip().endswith(ROW[-1].plain.rstrip())
