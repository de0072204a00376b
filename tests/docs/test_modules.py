"""``docs/tutorials/modules.md`` followed start to finish from an empty folder, as a newcomer
would: four modules and their declarations written as the page says, ``lockgate check``, a
real ``lockgate serve``, health, an order whose event reaches the mailer, a refund refused
as an undeclared call, and a delivery that fails while the mail server is "down" and
succeeds on a later try once it is back."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.docs.tutorial_support import Tutorial, runnable

PAGE = "tutorials/modules.md"


def test_the_modules_tutorial_runs_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "bookshop"
    folder.mkdir()
    with Tutorial(
        PAGE,
        folder,
        env={"COLUMNS": "120"},
        # Events are delivered in the background, the second after the outage ends.
        eventually={
            "cat outbox.txt",
            "curl 'http://127.0.0.1:8000/events/deliveries?status=pending'",
        },
    ) as tutorial:
        ran = tutorial.follow()
        deliveries = httpx.get(f"{tutorial.url}/events/deliveries", timeout=30).json()
    assert ran == runnable(PAGE) == 18
    # The first order's confirmation went out at once, the second's on a later try.
    first, second = deliveries["deliveries"]
    assert (first["status"], first["attempts"]) == ("completed", 1), first
    assert second["status"] == "completed", second
    assert second["attempts"] > 1, second
