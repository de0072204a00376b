"""The receiver module: logs every delivered ping's event id to ``$EVENTS_LOG`` (fsync'd),
once ``$EVENTS_GATE`` exists; before that, a delivery waits (or, with
``$EVENTS_GATE_RAISES`` set, fails)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lockgate.modules import current_event, event_bus


class Receiver:
    def __init__(self) -> None:
        event_bus.subscribe("ping", self.on_ping, "receiver")

    def on_ping(self, data: dict[str, Any]) -> None:  # a sync handler: run on a thread
        while not Path(os.environ["EVENTS_GATE"]).exists():
            if os.environ.get("EVENTS_GATE_RAISES"):
                raise RuntimeError(f"gate closed for ping {data['n']}")
            time.sleep(0.01)
        line = f"{os.getpid()} {current_event().event_id} {data['n']}\n"
        with open(os.environ["EVENTS_LOG"], "a", encoding="utf-8") as log:
            log.write(line)
            log.flush()
            os.fsync(log.fileno())


def get_services() -> dict[str, Any]:
    return {"Receiver": Receiver}
